/*
 * ae_cache.c — per-backend cache of models ready for scoring.
 *
 * The pattern of PostgreSQL's ts_cache.c: a hash table created on first
 * use, invalidation callbacks that only mark entries invalid (they may run
 * while a transaction aborts, so they must neither allocate nor fail), and a
 * rebuild at the next lookup.  What invalidates is a relcache invalidation
 * of the catalog table ae_model_catalog, which the catalog sends on every
 * change (see ae_catalog.h): it reaches other backends when the writer
 * commits, the writer itself at its next command, and is replayed locally
 * when the writer rolls back — so a rolled-back retrain is never seen.
 *
 * Entries are rebuilt in place: the hash entry (and so the pointer callers
 * hold) stays, its memory context is replaced.  An entry pinned by a call
 * site is never evicted; eviction picks the least recently used unpinned
 * entry whenever there are more than autoenc.model_cache_size.
 *
 * Permission decisions (ae_cache_lookup_checked) are remembered per entry
 * and role.  Why the snapshot conditions: the check reads the catalog with
 * the statement's snapshot, while invalidations arrive whenever this backend
 * accepts them.  A check whose snapshot is older than an invalidation it has
 * already processed (a REVOKE committed between the statement's start and
 * its first row, say) saw the catalog before that change, and no further
 * invalidation would ever correct it.  So a decision is recorded only when
 * the check's snapshot equals a snapshot taken afterwards (no transaction
 * ended in between) and sees this transaction's own commands, and it is
 * used only with snapshots taken no earlier: exactly the statements for
 * which a fresh check would read the same rows.  Role membership and
 * superuser status are read through the syscache by has_privs_of_role, as
 * before, whatever the snapshot.
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "ae_cache.h"
#include "ae_catalog.h"
#include "ae_compat.h"
#include "ae_encoding.h"
#include "ae_infer.h"
#include "ae_scorer.h"
#include "autoenc.h"

uint64		ae_cache_generation = 1;
uint64		ae_relcache_generation = 1;
uint64		ae_access_generation = 1;
int			ae_model_cache_size = 16;

static HTAB *ModelCache = NULL;
static MemoryContext ModelCacheContext = NULL;
static uint64 LruClock = 0;
static uint64 BuildSerial = 0;

/*
 * The oids of the catalog table and of its grants table, looked up at the
 * first lookup after each invalidation.  Until they are known, any relcache
 * invalidation invalidates everything (it might be the catalog's).  The
 * grants table's own relcache invalidations count too: the statement
 * trigger covers its rows, and ALTER TABLE ... DISABLE/ENABLE TRIGGER
 * around a data-only restore sends them.
 */
static Oid	CatalogRelid = InvalidOid;
static Oid	GrantsRelid = InvalidOid;
static bool CatalogRelidKnown = false;

static void
InvalidateAll(void)
{
	HASH_SEQ_STATUS status;
	AeCachedModel *entry;

	ae_cache_generation++;
	ae_access_generation++;
	CatalogRelidKnown = false;	/* the extension may have been dropped */
	if (ModelCache == NULL)
		return;
	hash_seq_init(&status, ModelCache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

static void
RelcacheCallback(Datum arg, Oid relid)
{
	ae_relcache_generation++;
	if (relid == InvalidOid || !CatalogRelidKnown || relid == CatalogRelid ||
		relid == GrantsRelid)
		InvalidateAll();
}

/*
 * pg_authid, pg_auth_members or pg_database (the owner, for membership in
 * pg_database_owner) changed: permission decisions may have.
 */
static void
RoleCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	ae_access_generation++;
}

/*
 * pg_namespace changed (a schema created, dropped, renamed, or its USAGE
 * granted or revoked): a bare name may now resolve to another model, so
 * every name is checked again; the entries themselves stay valid (a model
 * of another identity is rebuilt when its check says so).
 */
static void
NamespaceCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	ae_cache_generation++;
	ae_access_generation++;
}

bool
ae_name_uses_search_path(const char *name, int namelen)
{
	/* unquoted and with a dot: schema-qualified (anything else may be bare) */
	return !(memchr(name, '"', namelen) == NULL && memchr(name, '.', namelen) != NULL);
}

uint64
ae_search_path_hash(const char *name, int namelen)
{
	if (!ae_name_uses_search_path(name, namelen))
		return 0;
	return hash_bytes_extended((const unsigned char *) namespace_search_path,
							   (int) strlen(namespace_search_path), 0) | 1;
}

void
ae_cache_init(void)
{
	CacheRegisterRelcacheCallback(RelcacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, NamespaceCallback, (Datum) 0);
	/* what has_privs_of_role depends on (acl.c registers the same three) */
	CacheRegisterSyscacheCallback(AUTHOID, RoleCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, RoleCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(DATABASEOID, RoleCallback, (Datum) 0);
}

/* Drop the least recently used unpinned entries (never keep) until within bounds. */
static void
Evict(AeCachedModel *keep)
{
	while (hash_get_num_entries(ModelCache) > ae_model_cache_size)
	{
		HASH_SEQ_STATUS status;
		AeCachedModel *entry,
				   *victim = NULL;

		hash_seq_init(&status, ModelCache);
		while ((entry = hash_seq_search(&status)) != NULL)
			if (entry != keep && entry->pins == 0 &&
				(victim == NULL || entry->last_used < victim->last_used))
				victim = entry;
		if (victim == NULL)
			return;				/* everything else is in use */
		if (victim->cxt)
			MemoryContextDelete(victim->cxt);
		hash_search(ModelCache, victim->name, HASH_REMOVE, NULL);
	}
}

/*
 * Fetch the model and lay it out for scoring in a new memory context, then
 * swap it into entry.  The new context hangs below a temporary one until it
 * is complete, so an error anywhere leaves entry as it was.
 */
static void
Build(AeCachedModel *entry)
{
	MemoryContext tmp,
				cxt,
				old;
	AeBundle   *bundle;
	int			version;
	int64		model_id;
	AeModel		model;
	float	   *params,
			   *packed,
			   *norm_offset,
			   *norm_scale,
			   *feature_mean;
	size_t		n_params;
	int			d;
	char		errbuf[AE_ERRBUF_SIZE];
	char		what[AE_CACHE_NAME_MAX + 64];
	char	  **columns = NULL;
	AeEncoding *encoding = NULL;

	tmp = AllocSetContextCreate(CurrentMemoryContext, "autoenc model fetch",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(tmp);
	bundle = ae_catalog_fetch_id(entry->name, AE_ACCESS_USE, &version, &model_id);

	cxt = AllocSetContextCreate(tmp, "autoenc model", ALLOCSET_SMALL_SIZES);
	MemoryContextCopyAndSetIdentifier(cxt, entry->name);
	MemoryContextSwitchTo(cxt);

	d = bundle->arch.n_inputs;
	n_params = ae_arch_param_count(&bundle->arch);
	params = (float *) palloc(sizeof(float) * n_params);
	memcpy(params, bundle->params, sizeof(float) * n_params);
	snprintf(what, sizeof(what), "cannot use model \"%s\"", entry->name);
	errbuf[0] = '\0';
	ae_check_status(ae_model_bind(&model, &bundle->arch, params, errbuf), errbuf, what);
	if (bundle->encoding_json)
	{
		/* checked against the network before it is trusted: a bundle may come from elsewhere */
		encoding = AeEncodingFromText(bundle->encoding_json, ERRCODE_DATA_CORRUPTED, what);
		AeEncodingCheckModel(encoding, bundle, ERRCODE_DATA_CORRUPTED, what);
		if (ae_groups_present(&encoding->groups))
			ae_check_status(ae_model_set_groups(&model, &encoding->groups, errbuf), errbuf, what);
	}
	packed = (float *) palloc(sizeof(float) * ae_infer_packed_size(&model));
	ae_infer_pack(&model, packed);

	if (bundle->n_columns > 0)
	{
		const char *p = bundle->columns;

		columns = (char **) palloc(sizeof(char *) * bundle->n_columns);
		for (int i = 0; i < bundle->n_columns; i++)
		{
			columns[i] = pstrdup(p);
			p += strlen(p) + 1;
		}
	}

	norm_offset = (float *) palloc(sizeof(float) * d);
	norm_scale = (float *) palloc(sizeof(float) * d);
	feature_mean = (float *) palloc(sizeof(float) * d);
	memcpy(norm_offset, bundle->norm_offset, sizeof(float) * d);
	memcpy(norm_scale, bundle->norm_scale, sizeof(float) * d);
	memcpy(feature_mean, bundle->feature_mean, sizeof(float) * d);
	MemoryContextSwitchTo(old);

	/* complete: move it under the cache's context, drop the old one */
	MemoryContextSetParent(cxt, ModelCacheContext);
	if (entry->cxt)
		MemoryContextDelete(entry->cxt);
	entry->cxt = cxt;
	entry->version = version;
	entry->model_id = model_id;
	entry->model = model;
	entry->params = params;
	entry->packed = packed;
	entry->d = d;
	entry->code_width = ae_code_width(&model);
	entry->sigmoid_output = bundle->arch.output_act == AE_ACT_SIGMOID;
	entry->norm_offset = norm_offset;
	entry->norm_scale = norm_scale;
	entry->feature_mean = feature_mean;
	entry->threshold = bundle->threshold;
	memcpy(entry->quantiles, bundle->quantiles, sizeof(entry->quantiles));
	entry->n_columns = bundle->n_columns;
	entry->columns = columns;
	entry->encoding = encoding;
	entry->built = true;
	entry->serial = ++BuildSerial;

	MemoryContextDelete(tmp);
}

static void
CreateCache(void)
{
	HASHCTL		ctl;

	ModelCacheContext = AllocSetContextCreate(CacheMemoryContext, "autoenc model cache",
											  ALLOCSET_SMALL_SIZES);
	ctl.keysize = AE_CACHE_NAME_MAX;
	ctl.entrysize = sizeof(AeCachedModel);
	ctl.hcxt = ModelCacheContext;
	ModelCache = hash_create("autoenc model cache", 16, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static inline bool
ValidName(const char *name, int namelen)
{
	return namelen > 0 && namelen < AE_CACHE_NAME_MAX && memchr(name, '\0', namelen) == NULL;
}

AeCachedModel *
ae_cache_lookup(const char *name, int namelen, int version, int64 model_id, uint64 *generation)
{
	char		key[AE_CACHE_NAME_MAX];
	AeCachedModel *entry;
	bool		found;
	uint64		gen;

	if (!ValidName(name, namelen))
		elog(ERROR, "invalid model name passed to the model cache. Please report a bug.");

	if (ModelCache == NULL)
		CreateCache();
	if (!CatalogRelidKnown)
	{
		CatalogRelid = ae_catalog_relid();
		GrantsRelid = get_relname_relid("ae_model_grants", get_rel_namespace(CatalogRelid));
		CatalogRelidKnown = true;
	}

	memset(key, 0, sizeof(key));
	memcpy(key, name, namelen);
	entry = hash_search(ModelCache, key, HASH_ENTER, &found);
	if (!found)
	{
		/* everything after the key */
		memset((char *) entry + AE_CACHE_NAME_MAX, 0, sizeof(*entry) - AE_CACHE_NAME_MAX);
	}
	entry->last_used = ++LruClock;

	/* 0: models are kept only while a statement uses them */
	if (ae_model_cache_size == 0 && entry->pins == 0)
		entry->valid = false;

	gen = ae_cache_generation;
	if (!entry->valid || (version > 0 && entry->version != version) ||
		(model_id > 0 && entry->model_id != model_id))
	{
		PG_TRY();
		{
			Build(entry);
		}
		PG_CATCH();
		{
			/* a name that never built (e.g. an unknown model) is not kept */
			if (!entry->built && entry->pins == 0)
				hash_search(ModelCache, key, HASH_REMOVE, NULL);
			PG_RE_THROW();
		}
		PG_END_TRY();

		/*
		 * An invalidation that arrived while the catalog was read may concern
		 * what was just read: then the entry stays invalid (the caller still
		 * uses it for this call, and will look it up again).
		 */
		entry->valid = (ae_cache_generation == gen);
	}
	Evict(entry);
	*generation = gen;
	return entry;
}

/* ---------------------------------------------------------------- permissions */

/*
 * Is snapshot a at least as new as snapshot b — does it see every
 * transaction b sees as ended?  Over time a snapshot's xmax (the latest
 * ended transaction + 1) only grows, and while it stays the same the
 * transactions below it that are still running (xip, xcnt of them) only
 * become fewer: no new transaction gets an id below it.  So a larger xmax
 * means a was taken later, and an equal xmax with no more running
 * transactions means it sees at least as many ended.  (Recovery snapshots
 * list their transactions elsewhere: never compared.)
 */
static inline bool
SnapshotNoOlder(TransactionId a_xmax, uint32 a_xcnt, TransactionId b_xmax, uint32 b_xcnt)
{
	return TransactionIdFollows(a_xmax, b_xmax) ||
		(TransactionIdEquals(a_xmax, b_xmax) && a_xcnt <= b_xcnt);
}

/*
 * May a decision recorded as a be used by a statement running with snap?
 * Only if nothing that could change it was processed since, and snap sees
 * at least what the check's snapshot saw (and this transaction's commands
 * up to the check's).
 */
static inline bool
AccessHolds(const AeCachedAccess *a, Snapshot snap)
{
	return a->generation == ae_access_generation &&
		!snap->takenDuringRecovery &&
		SnapshotNoOlder(snap->xmax, snap->xcnt, a->xmax, a->xcnt) &&
		(a->lxid != AE_PROC_LXID(MyProc) || snap->curcid >= a->curcid);
}

/*
 * Remember that userid may use entry, as decided by a check that ran with
 * snap after ae_access_generation was generation — if snap saw every change
 * whose invalidation this backend had processed when the check ended.
 *
 * A transaction whose invalidation was processed had ended before (it
 * leaves the proc array before it sends its messages), so a snapshot taken
 * now sees it; if snap is no older than that one, snap saw it too.  The own
 * transaction's earlier commands are seen when snap's command id is the
 * current one.  GetLatestSnapshot is not allowed in parallel mode: nothing
 * is recorded there.
 */
static void
RecordAccess(AeCachedModel *entry, Oid userid, uint64 search_path, int version,
			 uint64 generation, Snapshot snap)
{
	AeCachedAccess *a = NULL;
	Snapshot	now;

	if (generation != ae_access_generation || !entry->valid ||
		snap->takenDuringRecovery || IsInParallelMode() ||
		snap->curcid != GetCurrentCommandId(false))
		return;
	now = GetLatestSnapshot();
	if (!SnapshotNoOlder(snap->xmax, snap->xcnt, now->xmax, now->xcnt))
		return;
	for (int i = 0; i < AE_CACHE_USERS; i++)
		if (entry->access[i].userid == userid && entry->access[i].search_path == search_path)
			a = &entry->access[i];
	if (a == NULL)
	{
		a = &entry->access[entry->access_next];
		entry->access_next = (entry->access_next + 1) % AE_CACHE_USERS;
	}
	a->userid = userid;
	a->search_path = search_path;
	a->version = version;
	a->generation = generation;
	a->xmax = snap->xmax;
	a->xcnt = snap->xcnt;
	a->lxid = AE_PROC_LXID(MyProc);
	a->curcid = snap->curcid;
}

AeCachedModel *
ae_cache_lookup_checked(const char *name, int namelen, uint64 *generation)
{
	Oid			userid = GetUserId();
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
	uint64		access_generation = ae_access_generation;
	uint64		search_path = ae_search_path_hash(name, namelen);
	AeCachedModel *entry;
	int			version;
	int64		model_id;

	if (snap != NULL && snap->snapshot_type != SNAPSHOT_MVCC)
		snap = NULL;

	/* the fast path: a decision for this user that still holds */
	if (snap != NULL && ModelCache != NULL && ValidName(name, namelen))
	{
		char		key[AE_CACHE_NAME_MAX];

		memset(key, 0, sizeof(key));
		memcpy(key, name, namelen);
		entry = hash_search(ModelCache, key, HASH_FIND, NULL);
		if (entry != NULL && entry->valid && entry->built &&
			(ae_model_cache_size > 0 || entry->pins > 0))
		{
			for (int i = 0; i < AE_CACHE_USERS; i++)
			{
				const AeCachedAccess *a = &entry->access[i];

				if (a->userid == userid && a->search_path == search_path && AccessHolds(a, snap))
				{
					if (a->version != entry->version)
						break;	/* built from another snapshot: look up again */
					entry->last_used = ++LruClock;
					*generation = ae_cache_generation;
					return entry;
				}
			}
		}
	}

	/* the catalog's check, which also raises 42704 for an unknown name */
	{
		char	   *full = pnstrdup(name, namelen);

		version = ae_catalog_check(full, AE_ACCESS_USE, &model_id);
		pfree(full);
	}
	if (!ValidName(name, namelen))
		elog(ERROR, "model name of %d bytes passed the catalog check. Please report a bug.", namelen);
	entry = ae_cache_lookup(name, namelen, version, model_id, generation);
	if (snap != NULL && entry->version == version && entry->model_id == model_id)
		RecordAccess(entry, userid, search_path, version, access_generation, snap);
	return entry;
}

void
ae_cache_pin(AeCachedModel *entry)
{
	entry->pins++;
}

void
ae_cache_unpin(AeCachedModel *entry)
{
	Assert(entry->pins > 0);
	if (entry->pins > 0)
		entry->pins--;
}
