/*
 * ae_cache.h — the per-backend cache of models ready for scoring.
 *
 * A scoring call needs a model fetched from the catalog, deserialised and
 * laid out for the one-row kernel.  Doing that in every statement would
 * dominate short statements (a trigger on single-row inserts), so each
 * backend keeps the ready models in a hash table keyed by model name,
 * bounded by autoenc.model_cache_size (LRU).
 *
 * Each entry also remembers, for up to AE_CACHE_USERS roles, that the
 * catalog's permission check (ae_catalog_check) allowed that role to use the
 * model, so that the first row of a statement costs a hash lookup and a few
 * comparisons instead of a catalog query.  Such a decision holds until a
 * change that could alter it is processed: any change to the catalog or its
 * grants (the same relcache invalidation as below) and any change to roles
 * or role membership (syscache invalidations of pg_authid, pg_auth_members
 * and pg_database: superuser, inheritance, GRANT/REVOKE of roles, DROP
 * ROLE, the database's owner).  It is only recorded from a check that ran with a snapshot seeing
 * every change whose invalidation had been processed (no transaction ended
 * since the snapshot was taken, and it sees the transaction's own earlier
 * commands), and only reused by statements whose snapshot is at least as
 * new; otherwise the check runs as before.  Denials are never cached, nor
 * decisions taken during recovery or in parallel mode.  The catalog's
 * invalidation triggers are ENABLE ALWAYS, so they fire under
 * session_replication_role = replica too (a logical replication subscriber
 * applying a retrain).
 *
 * Invalidation is transactional, like PostgreSQL's own caches: any change to
 * the catalog table sends a relcache invalidation for it (a trigger of the
 * catalog does that), which every backend processes when it next accepts
 * invalidation messages — after the writer commits, or at the writer's own
 * next command, and undone at its rollback.  The callback only marks entries
 * invalid and bumps ae_cache_generation; the next lookup rebuilds.
 *
 * A caller (one call site of a scoring function, through its fn_extra) pins
 * the entry it uses for as long as its memory context lives, so an entry in
 * use is never evicted; it rechecks ae_cache_generation on every call and
 * looks the entry up again when it moved.
 */
#ifndef AE_CACHE_H
#define AE_CACHE_H

#include "postgres.h"

#include "ae_bundle.h"
#include "ae_catalog.h"
#include "ae_nn.h"

/*
 * Entries are keyed by the model name as the caller wrote it (bare or
 * schema-qualified, quoted or not), terminator included.
 */
#define AE_CACHE_NAME_MAX (AE_MODEL_INPUT_MAX + 1)

/* Roles per entry whose permission decision is remembered. */
#define AE_CACHE_USERS 4

/* "userid may use this model": see above. */
typedef struct AeCachedAccess
{
	Oid			userid;			/* InvalidOid: slot unused */
	uint64		search_path;	/* ae_search_path_hash() it was decided under */
	int			version;		/* the version the check returned */
	uint64		generation;		/* ae_access_generation it holds for */
	TransactionId xmax;			/* the check's snapshot: its xmax */
	uint32		xcnt;			/* and the transactions it saw running */
	LocalTransactionId lxid;	/* its transaction */
	CommandId	curcid;			/* and command */
} AeCachedAccess;

/* A model ready for scoring.  Everything but the entry itself lives in cxt. */
typedef struct AeCachedModel
{
	char		name[AE_CACHE_NAME_MAX];	/* hash key, NUL-padded: must be first */
	bool		valid;			/* false: rebuild before use */
	bool		built;			/* false: never built (or its build failed) */
	uint64		serial;			/* different for every build in this backend */
	int			pins;			/* call sites holding it; > 0 never evicted */
	uint64		last_used;		/* LRU clock */
	MemoryContext cxt;			/* NULL until built */

	int			version;		/* the catalog's version of the model */
	int64		model_id;		/* and its identity (a name may move to another model) */
	AeModel		model;			/* bound to params */
	float	   *params;
	float	   *packed;			/* ae_infer_pack layout */
	int			d;				/* input width */
	int			code_width;
	bool		sigmoid_output;
	float	   *norm_offset;	/* d */
	float	   *norm_scale;		/* d */
	float	   *feature_mean;	/* d, original units */
	double		threshold;
	double		quantiles[AE_BUNDLE_N_QUANTILES];
	int			n_columns;		/* 0: array-input model */
	char	  **columns;		/* n_columns names */
	struct AeEncoding *encoding;	/* mixed-type models (ae_encoding.h), or NULL */

	AeCachedAccess access[AE_CACHE_USERS];	/* remembered permission checks */
	int			access_next;	/* the slot to replace next */
} AeCachedModel;

/* Bumped whenever any cached entry may have become stale. */
extern uint64 ae_cache_generation;

/*
 * Bumped by every relcache invalidation, whatever the relation: row-type
 * mappings (attribute numbers of a model's columns) are rebuilt after it,
 * since ALTER TABLE may have changed the row type.
 */
extern uint64 ae_relcache_generation;

/*
 * Bumped by every invalidation that may change a permission decision: the
 * catalog's (with ae_cache_generation) and role or membership changes.
 */
extern uint64 ae_access_generation;

/*
 * What a bare model name resolves to depends on the search_path; a
 * schema-qualified one does not.  (Unsure cases count as bare: a quoted
 * part may hold a dot.)
 */
extern bool ae_name_uses_search_path(const char *name, int namelen);

/*
 * A hash of the search_path's text for remembered decisions to compare
 * (never 0), or 0 for a name that does not use it.
 */
extern uint64 ae_search_path_hash(const char *name, int namelen);

/* autoenc.model_cache_size */
extern int	ae_model_cache_size;

/* The invalidation callbacks (from _PG_init, which defines the setting). */
extern void ae_cache_init(void);

/*
 * The model name (namelen bytes, not necessarily terminated) ready for
 * scoring: fetched and built when not cached, stale, or of another version
 * than version and model_id (the caller's ae_catalog_check result; 0
 * accepts any).
 * Raises the catalog's errors.  *generation receives the value of
 * ae_cache_generation the entry is good for: the caller must look it up
 * again once ae_cache_generation differs.
 */
extern AeCachedModel *ae_cache_lookup(const char *name, int namelen, int version,
									  int64 model_id, uint64 *generation);

/*
 * The model name (namelen bytes) ready for scoring by the current user: the
 * catalog's permission check for AE_ACCESS_USE (42704 / 42501), then
 * ae_cache_lookup — or, when a remembered decision for this user still
 * holds (see above), the cached entry directly.  The caller accepts pending
 * invalidation messages first.  *generation as for ae_cache_lookup.
 */
extern AeCachedModel *ae_cache_lookup_checked(const char *name, int namelen,
											  uint64 *generation);

/* Pin / unpin an entry (see above). */
extern void ae_cache_pin(AeCachedModel *entry);
extern void ae_cache_unpin(AeCachedModel *entry);

#endif							/* AE_CACHE_H */
