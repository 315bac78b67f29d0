/*
 * ae_catalog.h — the model catalog as the rest of the SQL layer sees it.
 *
 * Models are stored as bundles (src/core/ae_bundle.h) in the table
 * ae_model_catalog of the extension's schema.  Every access goes through
 * these functions, which enforce ownership (owner or a member of the owning
 * role, or superuser) and grants (ae_grant) and raise 42704 for an unknown
 * model, 42501 for a denied one.  Ordinary roles hold no privilege on the
 * table: the statements run as its owner, switched to only around each
 * statement, with search_path pinned to pg_catalog.
 *
 * Model names are 1 to 63 bytes (22023 when empty, 42622 when too long).
 *
 * Cache invalidation: every change to ae_model_catalog or ae_model_grants
 * (store, drop, rename, grant, revoke, restore, direct DML by a superuser)
 * fires a statement trigger that sends a relcache invalidation for
 * ae_model_catalog (ae_catalog_relid()).  A per-backend model cache
 * registers CacheRegisterRelcacheCallback and drops its entries when it sees
 * that relid (or InvalidOid, which means "everything"); other backends
 * receive it when the changing transaction commits, the changing backend at
 * its next command.
 */
#ifndef AE_CATALOG_H
#define AE_CATALOG_H

#include "postgres.h"

#include "ae_bundle.h"

/* What a caller wants to do with a model: decides the permission check. */
typedef enum AeAccess
{
	AE_ACCESS_USE,				/* score, read history: owner or grantee */
	AE_ACCESS_OWN				/* retrain, warm start, export, rename, drop, grant: owner */
} AeAccess;

/*
 * Store bundle as model name.  A new name becomes version 1, owned by the
 * current user; an existing one (the caller must own it) is replaced by
 * version + 1 in the same transaction, so an aborted statement leaves the old
 * row untouched.  source_relid is the training relation (InvalidOid for
 * ae_fit/ae_save/ae_import).  Returns the new version.
 */
extern int	ae_catalog_store(const char *name, const AeBundle *bundle, Oid source_relid);

/*
 * Fetch model name's bundle (allocated in CurrentMemoryContext) after the
 * permission check for access; *version receives the stored version when not
 * NULL.  Raises 42704 when there is no such model.
 */
extern AeBundle *ae_catalog_fetch(const char *name, AeAccess access, int *version);

/*
 * The permission check of ae_catalog_fetch without reading the bundle:
 * returns the stored version (42704 / 42501 as above).  Cheap enough to run
 * on every call of a function that scores with a cached model.
 */
extern int	ae_catalog_check(const char *name, AeAccess access);

/* The same, but a model that does not exist yet is no error: returns 0. */
extern int	ae_catalog_check_if_exists(const char *name, AeAccess access);

/*
 * The oid of ae_model_catalog in the extension's schema (looked up on every
 * call: the extension may be dropped and created again).
 */
extern Oid	ae_catalog_relid(void);

/*
 * The ae_model SQL type (a varlena holding the serialized bundle).
 * ae_bundle_to_varlena raises 54000 when the model exceeds 1 GB;
 * ae_varlena_to_bundle accepts a detoasted value (short header or not),
 * checks it completely and raises XX001 (data_corrupted) naming the problem.
 */
extern bytea *ae_bundle_to_varlena(const AeBundle *bundle);
extern AeBundle *ae_varlena_to_bundle(const bytea *value);

#endif							/* AE_CATALOG_H */
