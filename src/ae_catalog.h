/*
 * ae_catalog.h — the model catalog as the rest of the SQL layer sees it.
 *
 * Models are stored as bundles (src/core/ae_bundle.h) in a table of the
 * extension's schema.  Every access goes through these functions, which
 * enforce ownership (owner or a member of the owning role, or superuser) and
 * grants (ae_grant) and raise 42704 for an unknown model, 42501 for a denied
 * one.
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

/* The ae_model SQL type (a varlena holding the serialized bundle). */
extern bytea *ae_bundle_to_varlena(const AeBundle *bundle);
extern AeBundle *ae_varlena_to_bundle(const bytea *value);

#endif							/* AE_CATALOG_H */
