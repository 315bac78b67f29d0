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
 * Models live in schemas (see ae_model_name.c for how names are written).
 * Using a model needs USAGE on its schema (42501), creating one CREATE on
 * it.  A bare name is resolved through search_path: to use a model, the
 * first schema of the path (that the caller may use) holding a model of
 * that name; to store one (train, import, save), the first schema of the
 * path, as CREATE TABLE and CREATE OR REPLACE do — never a schema further
 * down the path, so that nobody can squat a name in a shared schema that
 * another role's training would then stumble into.
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

#include "nodes/pg_list.h"

#include "ae_bundle.h"

/* Each part of a model name: 1 to 63 bytes, like an SQL identifier. */
#define AE_MODEL_NAME_MAX	(NAMEDATALEN - 1)

/* The longest text that can be a valid name: two quoted parts of doubled quotes. */
#define AE_MODEL_INPUT_MAX	(2 * (2 * AE_MODEL_NAME_MAX + 2) + 1)

/* A model name as given, split (ae_model_name_parse). */
typedef struct AeModelName
{
	bool		qualified;		/* a schema was given */
	char		schema[NAMEDATALEN];	/* "" when not qualified */
	char		name[NAMEDATALEN];
	const char *given;			/* the text as given, clipped for messages */
} AeModelName;

/*
 * Split a model name into schema and name: 42602 for bad syntax, 22023 for
 * an empty part, 42622 for a part over AE_MODEL_NAME_MAX bytes.
 */
extern void ae_model_name_parse(const char *given, AeModelName *out);

/*
 * A user-given name for a message: as it is when it fits the name limit,
 * else its first AE_MODEL_NAME_MAX bytes (whole characters) and "...".
 */
extern const char *ae_model_name_display(const char *given);

/* schema.name quoted where needed, as it is shown in messages and results. */
extern const char *ae_model_name_qualified(const char *schema, const char *name);

/* What a caller wants to do with a model: decides the permission check. */
typedef enum AeAccess
{
	AE_ACCESS_USE,				/* score, read history: owner or grantee */
	AE_ACCESS_OWN,				/* export, rename, drop, grant: owner */
	AE_ACCESS_STORE				/* retrain, warm start: owner, resolved as a store target */
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

/* The same, also giving the model's catalog id (its identity across retrains). */
extern AeBundle *ae_catalog_fetch_id(const char *name, AeAccess access, int *version, int64 *id);

/*
 * The permission check of ae_catalog_fetch without reading the bundle:
 * returns the stored version (42704 / 42501 as above).  Cheap enough to run
 * on every call of a function that scores with a cached model.
 */
extern int	ae_catalog_check(const char *name, AeAccess access, int64 *id);

/*
 * The schema-qualified name of the model a name (bare or not) finds now,
 * for the current role and search_path (42704 when none).
 */
extern const char *ae_catalog_qualify(const char *name);

/*
 * Everything that can refuse storing model name, checked before any work:
 * a read-only transaction or a hot standby (25006), the name, CREATE on the
 * target schema, and ownership when the model exists (42501).  Returns the
 * existing version, or 0 for a new model.
 */
extern int	ae_catalog_check_store(const char *name);

/*
 * Models follow their schema (ae_ddl.c): see the event triggers.  The
 * catalog is absent while the extension is being dropped with its schema.
 */
extern bool ae_catalog_present(void);
extern void ae_catalog_schema_renamed(const char *old_name, const char *new_name);
extern List *ae_catalog_schema_models(const char *schema, int limit);
extern void ae_catalog_drop_schema_models(const char *schema, const char *command);
extern void ae_catalog_drop_owned(Oid role);

/*
 * The oid of ae_model_catalog in the extension's schema (looked up on every
 * call: the extension may be dropped and created again).
 */
extern Oid	ae_catalog_relid(void);

/*
 * The ae_model SQL type (a varlena holding the serialized bundle).
 * ae_bundle_to_varlena raises 54000 when the model exceeds 1 GB;
 * ae_varlena_to_bundle accepts a detoasted value (short header or not),
 * checks it completely and raises XX001 (data_corrupted) naming the problem,
 * after context ("invalid ae_model value" when NULL).
 */
extern bytea *ae_bundle_to_varlena(const AeBundle *bundle);
extern AeBundle *ae_varlena_to_bundle(const bytea *value, const char *context);

#endif							/* AE_CATALOG_H */
