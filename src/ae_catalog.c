/*
 * ae_catalog.c — the model catalog: storing, fetching and managing models.
 *
 * The tables (ae_model_catalog, ae_model_grants, ae_model_audit) belong to
 * the extension's owner and grant nothing to PUBLIC.  The functions here
 * check permissions as the caller (has_privs_of_role on the owner or on a
 * grantee) and then run each catalog statement through SPI as the tables'
 * owner: SetUserIdAndSecContext around that statement only, with
 * search_path pinned to pg_catalog so that nothing of the caller's can be
 * resolved while the owner's rights are in effect.  No SQL function is
 * SECURITY DEFINER.
 *
 * Statements go through SPI_execute_with_args rather than saved plans: the
 * schema is only known at run time (the extension may be dropped and
 * created elsewhere), these calls are rare, and their cost is nothing next
 * to training or (de)serialising a model.
 *
 * Everything runs in the caller's transaction: a retrain that fails or is
 * cancelled after ae_catalog_store leaves the previous row as it was.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include <math.h>

#include "ae_catalog.h"
#include "autoenc.h"

#define AE_MODEL_NAME_MAX	63	/* bytes, like an SQL identifier */

/* Where the catalog lives and who is asking. */
typedef struct Catalog
{
	const char *schema;			/* quoted schema name, ready for SQL text */
	Oid			relid;			/* ae_model_catalog */
	Oid			owner;			/* owner of the catalog tables */
	Oid			caller;			/* GetUserId() on entry */
} Catalog;

/* One catalog row, as much as the caller asked for. */
typedef struct ModelRow
{
	int64		id;
	Oid			owner;
	int			version;
	bytea	   *bundle;			/* in the caller's memory context, or NULL */
} ModelRow;

/* ---------------------------------------------------------------- checks */

static inline void
CheckModelName(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	if (len > AE_MODEL_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", name),
				 errdetail("A model name has at most %d bytes; this one has %zu.",
						   AE_MODEL_NAME_MAX, len)));
}

static const char *
RoleName(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return name ? name : psprintf("(dropped role %u)", role);
}

static inline void
CheckRole(Oid role)
{
	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a role is required")));
	if (GetUserNameFromId(role, true) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role)));
}

static void
ReportMissing(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" does not exist", name)));
}

/* ---------------------------------------------------------------- location */

static Oid
ExtensionNamespace(void)
{
	Oid			extoid = get_extension_oid("autoenc", false);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(nsp))
		elog(ERROR, "extension autoenc has no schema. Please report a bug.");
	return nsp;
}

static Oid
CatalogRelid(Oid nsp)
{
	Oid			relid = get_relname_relid("ae_model_catalog", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the autoenc model catalog is missing"),
				 errdetail("Table ae_model_catalog does not exist in schema \"%s\".",
						   get_namespace_name(nsp)),
				 errhint("Drop and create the extension autoenc again.")));
	return relid;
}

Oid
ae_catalog_relid(void)
{
	return CatalogRelid(ExtensionNamespace());
}

static void
CatalogOpen(Catalog *cat)
{
	Oid			nsp = ExtensionNamespace();
	HeapTuple	tup;

	cat->schema = quote_identifier(get_namespace_name(nsp));
	cat->relid = CatalogRelid(nsp);
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(cat->relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", cat->relid);
	cat->owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	cat->caller = GetUserId();
}

/* ---------------------------------------------------------------- SPI as owner */

static void
CatalogConnect(void)
{
	int			ret = SPI_connect();

	if (ret != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
}

static void
CatalogFinish(void)
{
	int			ret = SPI_finish();

	if (ret != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(ret));
}

/*
 * Run one statement as the catalog's owner.  The user id is restored on
 * every path; the pinned search_path is popped on success, and by the
 * (sub)transaction abort on error, as fmgr_security_definer relies on.
 */
static int
CatalogExecute(const Catalog *cat, const char *sql, int nargs, Oid *types,
			   Datum *values, const char *nulls, bool read_only)
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	volatile int ret = 0;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(cat->owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		save_nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", "pg_catalog, pg_temp",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		ret = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0);
		AtEOXact_GUC(false, save_nestlevel);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();

	if (ret < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	return ret;
}

static inline Datum
GetDatum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * Look a model up by name; false when there is none.  for_update locks the
 * row against concurrent stores, renames and drops.  The bundle, when asked
 * for, is copied into caller_cxt so that it outlives SPI_finish.
 */
static bool
CatalogLookup(const Catalog *cat, const char *name, bool with_bundle,
			  bool for_update, MemoryContext caller_cxt, ModelRow *row)
{
	char	   *sql;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	sql = psprintf("SELECT id, owner::oid, version%s FROM %s.ae_model_catalog WHERE name = $1%s",
				   with_bundle ? ", bundle" : "", cat->schema,
				   for_update ? " FOR UPDATE" : "");
	values[0] = CStringGetTextDatum(name);
	CatalogExecute(cat, sql, 1, types, values, NULL, !for_update);
	if (SPI_processed == 0)
		return false;
	row->id = DatumGetInt64(GetDatum(0, 1, &isnull));
	row->owner = DatumGetObjectId(GetDatum(0, 2, &isnull));
	row->version = DatumGetInt32(GetDatum(0, 3, &isnull));
	row->bundle = NULL;
	if (with_bundle)
	{
		Datum		d = GetDatum(0, 4, &isnull);
		MemoryContext old = MemoryContextSwitchTo(caller_cxt);

		row->bundle = DatumGetByteaPCopy(d);
		MemoryContextSwitchTo(old);
	}
	return true;
}

/* ---------------------------------------------------------------- permissions */

static bool
IsGrantee(const Catalog *cat, int64 model_id)
{
	char	   *sql;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	sql = psprintf("SELECT grantee::oid FROM %s.ae_model_grants WHERE model_id = $1",
				   cat->schema);
	values[0] = Int64GetDatum(model_id);
	CatalogExecute(cat, sql, 1, types, values, NULL, true);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			grantee = DatumGetObjectId(GetDatum(i, 1, &isnull));

		if (has_privs_of_role(cat->caller, grantee))
			return true;
	}
	return false;
}

/* 42501 unless the caller may do access to the model in row. */
static void
CheckAccess(const Catalog *cat, const char *name, const ModelRow *row, AeAccess access)
{
	/* has_privs_of_role is true for superusers and members of the owner */
	if (has_privs_of_role(cat->caller, row->owner))
		return;
	if (access == AE_ACCESS_USE && IsGrantee(cat, row->id))
		return;
	if (access == AE_ACCESS_OWN)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", name),
				 errdetail("Only the owner of the model (role \"%s\"), members of that role and superusers may do this.",
						   RoleName(row->owner))));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for model \"%s\"", name),
			 errdetail("The model is owned by role \"%s\" and has not been granted to role \"%s\".",
					   RoleName(row->owner), RoleName(cat->caller)),
			 errhint("The owner can grant its use with ae_grant().")));
}

/* Look up, check, or raise 42704 / 42501. */
static void
CatalogLookupChecked(const Catalog *cat, const char *name, AeAccess access,
					 bool with_bundle, bool for_update, MemoryContext caller_cxt,
					 ModelRow *row)
{
	if (!CatalogLookup(cat, name, with_bundle, for_update, caller_cxt, row))
		ReportMissing(name);
	CheckAccess(cat, name, row, access);
}

static void
Audit(const Catalog *cat, const char *action, const ModelRow *row, const char *model,
	  const char *role, const char *detail)
{
	char	   *sql;
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7];

	memset(nulls, ' ', sizeof(nulls));	/* SPI: ' ' not null, 'n' null */
	sql = psprintf("INSERT INTO %s.ae_model_audit (actor, session_actor, action, model_id, model, role, detail) "
				   "VALUES ($1, $2, $3, $4, $5, $6, $7)", cat->schema);
	values[0] = CStringGetTextDatum(RoleName(cat->caller));
	values[1] = CStringGetTextDatum(RoleName(GetSessionUserId()));
	values[2] = CStringGetTextDatum(action);
	values[3] = Int64GetDatum(row->id);
	values[4] = CStringGetTextDatum(model);
	if (role)
		values[5] = CStringGetTextDatum(role);
	else
		nulls[5] = 'n';
	if (detail)
		values[6] = CStringGetTextDatum(detail);
	else
		nulls[6] = 'n';
	CatalogExecute(cat, sql, 7, types, values, nulls, false);
}

/* ---------------------------------------------------------------- store */

static inline Datum
Float8OrNull(double v, char *null)
{
	*null = isnan(v) ? 'n' : ' ';
	return Float8GetDatum(isnan(v) ? 0.0 : v);
}

/*
 * The catalog columns derived from a bundle: statement parameters $1 ..
 * $N_STORE_COLS in this order ("config" is passed as text and cast).
 */
#define N_STORE_COLS 13
#define STORE_CONFIG_COL 2
static const char *const StoreColumns[N_STORE_COLS] = {
	"source", "columns", "config", "n_inputs", "code_width", "layers",
	"normalization", "n_rows", "epochs", "train_loss", "val_loss",
	"threshold", "bundle"
};

static void
StoreValues(const AeBundle *b, Oid source_relid, bytea *bytes, Oid *types,
			Datum *values, char *nulls)
{
	const AeArch *a = &b->arch;
	Datum		widths[AE_MAX_HIDDEN + 2];
	int			n = 0;

	memset(nulls, ' ', N_STORE_COLS);

	/* source */
	types[0] = TEXTOID;
	if (OidIsValid(source_relid) && get_rel_name(source_relid) != NULL)
		values[0] = CStringGetTextDatum(quote_qualified_identifier(get_namespace_name(get_rel_namespace(source_relid)),
																   get_rel_name(source_relid)));
	else
		nulls[0] = 'n';

	/* columns */
	types[1] = TEXTARRAYOID;
	if (b->n_columns > 0)
	{
		Datum	   *names = palloc(b->n_columns * sizeof(Datum));
		const char *p = b->columns;

		for (int i = 0; i < b->n_columns; i++)
		{
			names[i] = CStringGetTextDatum(p);
			p += strlen(p) + 1;
		}
		values[1] = PointerGetDatum(construct_array(names, b->n_columns, TEXTOID, -1, false, TYPALIGN_INT));
	}
	else
		nulls[1] = 'n';

	/* config: text, cast to jsonb in the statement */
	types[2] = TEXTOID;
	values[2] = CStringGetTextDatum(b->config_json ? b->config_json : "{}");

	types[3] = INT4OID;
	values[3] = Int32GetDatum(a->n_inputs);
	types[4] = INT4OID;
	values[4] = Int32GetDatum(a->hidden[a->code_layer]);

	/* layers: input, hidden..., output */
	widths[n++] = Int32GetDatum(a->n_inputs);
	for (int i = 0; i < a->n_hidden; i++)
		widths[n++] = Int32GetDatum(a->hidden[i]);
	widths[n++] = Int32GetDatum(a->n_inputs);
	types[5] = INT4ARRAYOID;
	values[5] = PointerGetDatum(construct_array(widths, n, INT4OID, 4, true, TYPALIGN_INT));

	types[6] = TEXTOID;
	values[6] = CStringGetTextDatum(ae_norm_name(b->norm_method));
	types[7] = INT8OID;
	values[7] = Int64GetDatum(b->n_rows);
	types[8] = INT4OID;
	values[8] = Int32GetDatum(b->epochs_run);
	types[9] = FLOAT8OID;
	values[9] = Float8OrNull(b->train_loss, &nulls[9]);
	types[10] = FLOAT8OID;
	values[10] = Float8OrNull(b->val_loss, &nulls[10]);
	types[11] = FLOAT8OID;
	values[11] = Float8OrNull(b->threshold, &nulls[11]);
	types[12] = BYTEAOID;
	values[12] = PointerGetDatum(bytes);
}

int
ae_catalog_store(const char *name, const AeBundle *bundle, Oid source_relid)
{
	Catalog		cat;
	bytea	   *bytes;
	Oid			types[N_STORE_COLS + 2];
	Datum		values[N_STORE_COLS + 2];
	char		nulls[N_STORE_COLS + 3];
	int			version = 0;
	StringInfoData sql;

	CheckModelName(name);
	bytes = ae_bundle_to_varlena(bundle);
	CatalogOpen(&cat);
	StoreValues(bundle, source_relid, bytes, types, values, nulls);
	memset(nulls + N_STORE_COLS, ' ', 2);
	nulls[N_STORE_COLS + 2] = '\0';

	CatalogConnect();
	for (int attempt = 0;; attempt++)
	{
		ModelRow	row;
		bool		isnull;

		initStringInfo(&sql);
		if (CatalogLookup(&cat, name, false, true, CurrentMemoryContext, &row))
		{
			/* a new version of an existing model: owner only */
			CheckAccess(&cat, name, &row, AE_ACCESS_OWN);
			appendStringInfo(&sql, "UPDATE %s.ae_model_catalog SET version = version + 1, updated = now()",
							 cat.schema);
			for (int i = 0; i < N_STORE_COLS; i++)
				appendStringInfo(&sql, ", %s = $%d%s", StoreColumns[i], i + 1,
								 i == STORE_CONFIG_COL ? "::jsonb" : "");
			appendStringInfo(&sql, " WHERE id = $%d RETURNING version", N_STORE_COLS + 1);
			types[N_STORE_COLS] = INT8OID;
			values[N_STORE_COLS] = Int64GetDatum(row.id);
			CatalogExecute(&cat, sql.data, N_STORE_COLS + 1, types, values, nulls, false);
			if (SPI_processed != 1)
				elog(ERROR, "model \"%s\" vanished while locked. Please report a bug.", name);
		}
		else
		{
			/*
			 * A new model owned by the caller.  ON CONFLICT: another
			 * transaction created the same name since the lookup; go round
			 * again and replace it (if ours to replace).
			 */
			appendStringInfo(&sql, "INSERT INTO %s.ae_model_catalog (name, version, owner", cat.schema);
			for (int i = 0; i < N_STORE_COLS; i++)
				appendStringInfo(&sql, ", %s", StoreColumns[i]);
			appendStringInfo(&sql, ") VALUES ($%d, 1, $%d::regrole", N_STORE_COLS + 2, N_STORE_COLS + 1);
			for (int i = 0; i < N_STORE_COLS; i++)
				appendStringInfo(&sql, ", $%d%s", i + 1, i == STORE_CONFIG_COL ? "::jsonb" : "");
			appendStringInfoString(&sql, ") ON CONFLICT (name) DO NOTHING RETURNING version");
			types[N_STORE_COLS] = OIDOID;
			values[N_STORE_COLS] = ObjectIdGetDatum(cat.caller);
			types[N_STORE_COLS + 1] = TEXTOID;
			values[N_STORE_COLS + 1] = CStringGetTextDatum(name);
			CatalogExecute(&cat, sql.data, N_STORE_COLS + 2, types, values, nulls, false);
			if (SPI_processed == 0)
			{
				if (attempt > 0)
					elog(ERROR, "could not store model \"%s\": the name is taken but its row is not visible",
						 name);
				continue;
			}
		}
		version = DatumGetInt32(GetDatum(0, 1, &isnull));
		break;
	}
	CatalogFinish();
	return version;
}

/* ---------------------------------------------------------------- fetch */

/* The stored bytes of a model after the permission check (caller's context). */
static bytea *
CatalogFetchBytes(const char *name, AeAccess access, int *version)
{
	Catalog		cat;
	ModelRow	row;
	MemoryContext caller_cxt = CurrentMemoryContext;

	CatalogOpen(&cat);
	CatalogConnect();
	CatalogLookupChecked(&cat, name, access, true, false, caller_cxt, &row);
	CatalogFinish();
	if (version)
		*version = row.version;
	return row.bundle;
}

static AeBundle *
BytesToBundle(const bytea *bytes, const char *name)
{
	AeBundle   *bundle = palloc0(sizeof(AeBundle));
	char		errbuf[AE_ERRBUF_SIZE];
	AeStatus	st;

	st = ae_bundle_deserialize((const uint8_t *) VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes),
							   bundle, &ae_palloc_allocator, errbuf);
	if (st != AE_OK)
		ae_check_status(st, errbuf, psprintf("stored model \"%s\" is unreadable", name));
	return bundle;
}

AeBundle *
ae_catalog_fetch(const char *name, AeAccess access, int *version)
{
	bytea	   *bytes = CatalogFetchBytes(name, access, version);

	return BytesToBundle(bytes, name);
}

int
ae_catalog_check(const char *name, AeAccess access)
{
	Catalog		cat;
	ModelRow	row;

	CatalogOpen(&cat);
	CatalogConnect();
	CatalogLookupChecked(&cat, name, access, false, false, CurrentMemoryContext, &row);
	CatalogFinish();
	return row.version;
}

int
ae_catalog_check_if_exists(const char *name, AeAccess access)
{
	Catalog		cat;
	ModelRow	row;
	int			version = 0;

	CatalogOpen(&cat);
	CatalogConnect();
	if (CatalogLookup(&cat, name, false, false, CurrentMemoryContext, &row))
	{
		CheckAccess(&cat, name, &row, access);
		version = row.version;
	}
	CatalogFinish();
	return version;
}

/* ---------------------------------------------------------------- SQL: save, load, history */

PG_FUNCTION_INFO_V1(ae_save);
Datum
ae_save(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AeBundle   *bundle = ae_varlena_to_bundle(PG_GETARG_BYTEA_PP(1));

	PG_RETURN_INT32(ae_catalog_store(name, bundle, InvalidOid));
}

PG_FUNCTION_INFO_V1(ae_load);
Datum
ae_load(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *bytes = CatalogFetchBytes(name, AE_ACCESS_OWN, NULL);

	/* checked before it is handed out: ae_model values are always valid */
	(void) BytesToBundle(bytes, name);
	PG_RETURN_BYTEA_P(bytes);
}

PG_FUNCTION_INFO_V1(ae_history);
Datum
ae_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AeBundle   *bundle = ae_catalog_fetch(name, AE_ACCESS_USE, NULL);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < bundle->n_history; i++)
	{
		const AeEpochStats *e = &bundle->history[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int32GetDatum(e->epoch);
		values[1] = Float8GetDatum(e->train_loss);
		values[2] = Float8GetDatum(e->val_loss);
		nulls[2] = isnan(e->val_loss);
		values[3] = Float8GetDatum(e->seconds);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---------------------------------------------------------------- SQL: drop, rename */

PG_FUNCTION_INFO_V1(ae_drop);
Datum
ae_drop(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		if_exists = PG_GETARG_BOOL(1);
	Catalog		cat;
	ModelRow	row;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	CatalogOpen(&cat);
	CatalogConnect();
	if (!CatalogLookup(&cat, name, false, true, CurrentMemoryContext, &row))
	{
		CatalogFinish();
		if (!if_exists)
			ReportMissing(name);
		ereport(NOTICE,
				(errmsg("model \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	CheckAccess(&cat, name, &row, AE_ACCESS_OWN);
	values[0] = Int64GetDatum(row.id);
	/* the grants go with it (ON DELETE CASCADE) */
	CatalogExecute(&cat, psprintf("DELETE FROM %s.ae_model_catalog WHERE id = $1", cat.schema),
				   1, types, values, NULL, false);
	Audit(&cat, "drop", &row, name, NULL, NULL);
	CatalogFinish();
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(ae_rename);
Datum
ae_rename(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *new_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Catalog		cat;
	ModelRow	row,
				other;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	CheckModelName(new_name);
	CatalogOpen(&cat);
	CatalogConnect();
	CatalogLookupChecked(&cat, name, AE_ACCESS_OWN, false, true, CurrentMemoryContext, &row);
	if (CatalogLookup(&cat, new_name, false, false, CurrentMemoryContext, &other))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", new_name)));
	values[0] = Int64GetDatum(row.id);
	values[1] = CStringGetTextDatum(new_name);
	CatalogExecute(&cat, psprintf("UPDATE %s.ae_model_catalog SET name = $2 WHERE id = $1", cat.schema),
				   2, types, values, NULL, false);
	Audit(&cat, "rename", &row, name, NULL, new_name);
	CatalogFinish();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------- SQL: grant, revoke */

/*
 * ae_grant and ae_revoke: the owner adds or removes a grantee; a change is
 * audited, a no-op only noticed.
 */
static void
ChangeGrant(const char *name, Oid role, bool grant)
{
	Catalog		cat;
	ModelRow	row;
	Oid			types[3] = {INT8OID, OIDOID, OIDOID};
	Datum		values[3];

	CheckRole(role);
	CatalogOpen(&cat);
	CatalogConnect();
	CatalogLookupChecked(&cat, name, AE_ACCESS_OWN, false, true, CurrentMemoryContext, &row);
	values[0] = Int64GetDatum(row.id);
	values[1] = ObjectIdGetDatum(role);
	values[2] = ObjectIdGetDatum(cat.caller);
	if (grant)
		CatalogExecute(&cat,
					   psprintf("INSERT INTO %s.ae_model_grants (model_id, grantee, grantor) "
								"VALUES ($1, $2::regrole, $3::regrole) "
								"ON CONFLICT (model_id, grantee) DO NOTHING", cat.schema),
					   3, types, values, NULL, false);
	else
		CatalogExecute(&cat,
					   psprintf("DELETE FROM %s.ae_model_grants WHERE model_id = $1 AND grantee = $2::regrole",
								cat.schema),
					   2, types, values, NULL, false);
	if (SPI_processed == 0)
		ereport(NOTICE,
				(errmsg(grant ? "model \"%s\" is already granted to role \"%s\""
						: "model \"%s\" is not granted to role \"%s\"",
						name, RoleName(role))));
	else
		Audit(&cat, grant ? "grant" : "revoke", &row, name, RoleName(role), NULL);
	CatalogFinish();
}

PG_FUNCTION_INFO_V1(ae_grant);
Datum
ae_grant(PG_FUNCTION_ARGS)
{
	ChangeGrant(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_OID(1), true);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ae_revoke);
Datum
ae_revoke(PG_FUNCTION_ARGS)
{
	ChangeGrant(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_OID(1), false);
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------- invalidation */

PG_FUNCTION_INFO_V1(ae_catalog_invalidate);

/*
 * Statement trigger on ae_model_catalog and ae_model_grants: a relcache
 * invalidation of ae_model_catalog (found in the triggering table's
 * schema), delivered to every backend when the transaction commits.
 */
Datum
ae_catalog_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ae_catalog_invalidate: not called by trigger manager")));
	relid = get_relname_relid("ae_model_catalog", RelationGetNamespace(trigdata->tg_relation));
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	return PointerGetDatum(NULL);
}
