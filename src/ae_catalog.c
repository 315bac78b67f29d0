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
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
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
#include "ae_compat.h"
#include "autoenc.h"

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
	char		schema[NAMEDATALEN];	/* where it lives */
	Oid			owner;
	int			version;
	bytea	   *bundle;			/* in the caller's memory context, or NULL */
} ModelRow;

/* ---------------------------------------------------------------- checks */

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
ReportMissing(const AeModelName *mn)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" does not exist", mn->given),
			 mn->qualified ? 0 :
			 errdetail("No schema on the search_path that the current role may use holds a model of that name.")));
}

/* The model's name for messages once it is found: schema.name. */
static inline const char *
RowName(const ModelRow *row, const char *name)
{
	return ae_model_name_qualified(row->schema, name);
}

/* ---------------------------------------------------------------- location */

/* The extension's schema; InvalidOid when missing_ok and it is not installed. */
static Oid
ExtensionNamespace(bool missing_ok)
{
	Oid			extoid = get_extension_oid("autoenc", missing_ok);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	if (!OidIsValid(extoid))
		return InvalidOid;
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

bool
ae_catalog_present(void)
{
	Oid			nsp = ExtensionNamespace(true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("ae_model_catalog", nsp));
}

Oid
ae_catalog_relid(void)
{
	return CatalogRelid(ExtensionNamespace(false));
}

static void
CatalogOpen(Catalog *cat)
{
	Oid			nsp = ExtensionNamespace(false);
	HeapTuple	tup;

	cat->schema = quote_identifier(get_namespace_name(nsp));
	cat->relid = CatalogRelid(nsp);

	/*
	 * This library reads the catalog of 0.2.0 and later.  Between installing
	 * it and ALTER EXTENSION autoenc UPDATE an older catalog is refused
	 * with a clear error, never misread.
	 */
	if (get_attnum(cat->relid, "schema") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the autoenc model catalog is older than the loaded library"),
				 errdetail("The library is version %s; the catalog in schema \"%s\" predates models in schemas.",
						   AE_LIBRARY_VERSION, get_namespace_name(nsp)),
				 errhint("Run ALTER EXTENSION autoenc UPDATE.")));
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

/* The columns every lookup reads, then the bundle when asked for. */
#define ROW_COLUMNS "id, owner::pg_catalog.oid, version, schema"

/* Row i of the last lookup; the bundle, when read, is copied into caller_cxt. */
static void
ReadRow(uint64 i, bool with_bundle, MemoryContext caller_cxt, ModelRow *row)
{
	bool		isnull;

	row->id = DatumGetInt64(GetDatum(i, 1, &isnull));
	row->owner = DatumGetObjectId(GetDatum(i, 2, &isnull));
	row->version = DatumGetInt32(GetDatum(i, 3, &isnull));
	text_to_cstring_buffer(DatumGetTextPP(GetDatum(i, 4, &isnull)), row->schema, NAMEDATALEN);
	row->bundle = NULL;
	if (with_bundle)
	{
		Datum		d = GetDatum(i, 5, &isnull);
		MemoryContext old = MemoryContextSwitchTo(caller_cxt);

		row->bundle = DatumGetByteaPCopy(d);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Look model schema.name up; false when there is none.  for_update locks
 * the row against concurrent stores, renames and drops.
 */
static bool
LookupIn(const Catalog *cat, const char *schema, const char *name, bool with_bundle,
		 bool for_update, MemoryContext caller_cxt, ModelRow *row)
{
	char	   *sql;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	sql = psprintf("SELECT " ROW_COLUMNS "%s FROM %s.ae_model_catalog WHERE schema = $1 AND name = $2%s",
				   with_bundle ? ", bundle" : "", cat->schema,
				   for_update ? " FOR UPDATE" : "");
	values[0] = CStringGetTextDatum(schema);
	values[1] = CStringGetTextDatum(name);
	CatalogExecute(cat, sql, 2, types, values, NULL, !for_update);
	if (SPI_processed == 0)
		return false;
	ReadRow(0, with_bundle, caller_cxt, row);
	return true;
}

/*
 * The schemas a bare model name is looked for in: those of the search_path
 * the current role has USAGE on (fetch_search_path leaves the others out),
 * pg_catalog first when the path does not place it, never a temporary
 * schema (no model can be stored there).
 */
static List *
SearchPathSchemas(void)
{
	List	   *oids = fetch_search_path(true);
	List	   *names = NIL;
	ListCell   *lc;

	foreach(lc, oids)
	{
		Oid			nsp = lfirst_oid(lc);
		char	   *nspname;

		if (isAnyTempNamespace(nsp))
			continue;
		nspname = get_namespace_name(nsp);
		if (nspname)
			names = lappend(names, nspname);
	}
	list_free(oids);
	return names;
}

/*
 * Find the model mn names for using it: schema.name (USAGE on the schema
 * required: 42501), or the first schema of the search_path that holds a
 * model of that name.
 */
static bool
Resolve(const Catalog *cat, const AeModelName *mn, bool with_bundle, bool for_update,
		MemoryContext caller_cxt, ModelRow *row)
{
	List	   *schemas;
	Datum	   *elems;
	ListCell   *lc;
	int			n = 0;
	char	   *sql;
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];

	if (mn->qualified)
	{
		(void) LookupExplicitNamespace(mn->schema, false);
		return LookupIn(cat, mn->schema, mn->name, with_bundle, for_update, caller_cxt, row);
	}

	schemas = SearchPathSchemas();
	if (schemas == NIL)
		return false;
	elems = palloc(sizeof(Datum) * list_length(schemas));
	foreach(lc, schemas)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	sql = psprintf("SELECT " ROW_COLUMNS "%s FROM %s.ae_model_catalog WHERE name = $1 AND schema = ANY ($2)%s",
				   with_bundle ? ", bundle" : "", cat->schema,
				   for_update ? " FOR UPDATE" : "");
	values[0] = CStringGetTextDatum(mn->name);
	values[1] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	CatalogExecute(cat, sql, 2, types, values, NULL, !for_update);

	/* at most one model per schema: the first schema of the path wins */
	foreach(lc, schemas)
	{
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			char		schema[NAMEDATALEN];

			text_to_cstring_buffer(DatumGetTextPP(GetDatum(i, 4, &isnull)), schema, NAMEDATALEN);
			if (strcmp(schema, (char *) lfirst(lc)) == 0)
			{
				ReadRow(i, with_bundle, caller_cxt, row);
				return true;
			}
		}
	}
	return false;
}

/*
 * Where storing mn goes: schema.name, or the first schema of the search_path
 * (as CREATE TABLE decides).  USAGE on it is required; *may_create says
 * whether the caller may create a new model there (checked by the caller:
 * replacing a model one owns needs no CREATE, as ALTER does not).
 */
static void
StoreTarget(const AeModelName *mn, char *schema, bool *may_create)
{
	Oid			nsp = InvalidOid;

	if (mn->qualified)
		nsp = LookupExplicitNamespace(mn->schema, false);
	else
	{
		List	   *path = fetch_search_path(false);

		if (path != NIL)
			nsp = linitial_oid(path);
		list_free(path);
		if (!OidIsValid(nsp))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_SCHEMA),
					 errmsg("no schema has been selected to create model \"%s\" in", mn->given),
					 errhint("Qualify the model name (schema.name), or put a schema the current role "
							 "may create in first on the search_path.")));
	}
	if (isAnyTempNamespace(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot store model \"%s\" in a temporary schema", mn->given),
				 errdetail("The model catalog outlives the session; its temporary schema does not.")));
	*may_create = ae_namespace_aclcheck(nsp, GetUserId(), ACL_CREATE) == ACLCHECK_OK;
	strlcpy(schema, get_namespace_name(nsp), NAMEDATALEN);
}

static void
ReportNoCreate(const char *schema)
{
	aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_SCHEMA, schema);
}

/*
 * Storing and changing models writes the catalog: refused, before any work,
 * on a hot standby and in a read-only transaction (25006).
 */
static void
CheckWritable(const char *what, const char *model)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s model \"%s\" on a hot standby", what, model),
				 errdetail("Models are trained, imported, saved and changed on the primary; "
						   "a standby scores with the models it replicates.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s model \"%s\" in a read-only transaction", what, model)));
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

/* 42501 unless the caller may do access to the model in row (shown as given). */
static void
CheckAccess(const Catalog *cat, const char *shown, const ModelRow *row, AeAccess access)
{
	/* has_privs_of_role is true for superusers and members of the owner */
	if (has_privs_of_role(cat->caller, row->owner))
		return;
	if (access == AE_ACCESS_USE && IsGrantee(cat, row->id))
		return;
	if (access != AE_ACCESS_USE)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", shown),
				 errdetail("Only the owner of the model (role \"%s\"), members of that role and superusers may do this.",
						   RoleName(row->owner))));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for model \"%s\"", shown),
			 errdetail("The model is owned by role \"%s\" and has not been granted to role \"%s\".",
					   RoleName(row->owner), RoleName(cat->caller)),
			 errhint("The owner can grant its use with ae_grant().")));
}

/*
 * Find the model mn names for access, check it, or raise 42704 / 42501.
 * AE_ACCESS_STORE finds it where a store would put it (StoreTarget).
 */
static void
FindChecked(const Catalog *cat, const AeModelName *mn, AeAccess access,
			bool with_bundle, bool for_update, MemoryContext caller_cxt, ModelRow *row)
{
	bool		found;

	if (access == AE_ACCESS_STORE)
	{
		char		schema[NAMEDATALEN];
		bool		may_create;

		StoreTarget(mn, schema, &may_create);
		found = LookupIn(cat, schema, mn->name, with_bundle, for_update, caller_cxt, row);
	}
	else
		found = Resolve(cat, mn, with_bundle, for_update, caller_cxt, row);
	if (!found)
		ReportMissing(mn);
	CheckAccess(cat, mn->given, row, access);
}

static void
Audit(const Catalog *cat, const char *action, int64 model_id, const char *model,
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
	values[3] = Int64GetDatum(model_id);
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
ae_catalog_store(const char *given, const AeBundle *bundle, Oid source_relid)
{
	AeModelName mn;
	Catalog		cat;
	bytea	   *bytes;
	Oid			types[N_STORE_COLS + 3];
	Datum		values[N_STORE_COLS + 3];
	char		nulls[N_STORE_COLS + 4];
	char		schema[NAMEDATALEN];
	bool		may_create;
	int			version = 0;
	StringInfoData sql;

	ae_model_name_parse(given, &mn);
	CheckWritable("store", mn.given);
	StoreTarget(&mn, schema, &may_create);
	bytes = ae_bundle_to_varlena(bundle);
	CatalogOpen(&cat);
	StoreValues(bundle, source_relid, bytes, types, values, nulls);
	memset(nulls + N_STORE_COLS, ' ', 3);
	nulls[N_STORE_COLS + 3] = '\0';

	CatalogConnect();
	for (int attempt = 0;; attempt++)
	{
		ModelRow	row;
		bool		isnull;

		initStringInfo(&sql);
		if (LookupIn(&cat, schema, mn.name, false, true, CurrentMemoryContext, &row))
		{
			/* a new version of an existing model: owner only */
			CheckAccess(&cat, mn.given, &row, AE_ACCESS_OWN);
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
				elog(ERROR, "model \"%s\" vanished while locked. Please report a bug.", mn.given);
		}
		else
		{
			/*
			 * A new model owned by the caller, who needs CREATE on the
			 * schema.  ON CONFLICT: another transaction created the same
			 * name since the lookup; go round again and replace it (if ours
			 * to replace).
			 */
			if (!may_create)
				ReportNoCreate(schema);
			appendStringInfo(&sql, "INSERT INTO %s.ae_model_catalog (schema, name, version, owner", cat.schema);
			for (int i = 0; i < N_STORE_COLS; i++)
				appendStringInfo(&sql, ", %s", StoreColumns[i]);
			appendStringInfo(&sql, ") VALUES ($%d, $%d, 1, $%d::regrole",
							 N_STORE_COLS + 3, N_STORE_COLS + 2, N_STORE_COLS + 1);
			for (int i = 0; i < N_STORE_COLS; i++)
				appendStringInfo(&sql, ", $%d%s", i + 1, i == STORE_CONFIG_COL ? "::jsonb" : "");
			appendStringInfoString(&sql, ") ON CONFLICT (schema, name) DO NOTHING RETURNING version");
			types[N_STORE_COLS] = OIDOID;
			values[N_STORE_COLS] = ObjectIdGetDatum(cat.caller);
			types[N_STORE_COLS + 1] = TEXTOID;
			values[N_STORE_COLS + 1] = CStringGetTextDatum(mn.name);
			types[N_STORE_COLS + 2] = TEXTOID;
			values[N_STORE_COLS + 2] = CStringGetTextDatum(schema);
			CatalogExecute(&cat, sql.data, N_STORE_COLS + 3, types, values, nulls, false);
			if (SPI_processed == 0)
			{
				if (attempt > 0)
					elog(ERROR, "could not store model \"%s\": the name is taken but its row is not visible",
						 mn.given);
				continue;
			}
		}
		version = DatumGetInt32(GetDatum(0, 1, &isnull));
		break;
	}
	CatalogFinish();
	return version;
}

int
ae_catalog_check_store(const char *given)
{
	AeModelName mn;
	Catalog		cat;
	ModelRow	row;
	char		schema[NAMEDATALEN];
	bool		may_create;
	int			version = 0;

	ae_model_name_parse(given, &mn);
	CheckWritable("store", mn.given);
	StoreTarget(&mn, schema, &may_create);
	CatalogOpen(&cat);
	CatalogConnect();
	if (LookupIn(&cat, schema, mn.name, false, false, CurrentMemoryContext, &row))
	{
		CheckAccess(&cat, mn.given, &row, AE_ACCESS_OWN);
		version = row.version;
	}
	else if (!may_create)
		ReportNoCreate(schema);
	CatalogFinish();
	return version;
}

/* ---------------------------------------------------------------- fetch */

/* The stored bytes of a model after the permission check (caller's context). */
static bytea *
CatalogFetchBytes(const char *given, AeAccess access, int *version, int64 *id)
{
	AeModelName mn;
	Catalog		cat;
	ModelRow	row;
	MemoryContext caller_cxt = CurrentMemoryContext;

	ae_model_name_parse(given, &mn);
	CatalogOpen(&cat);
	CatalogConnect();
	FindChecked(&cat, &mn, access, true, false, caller_cxt, &row);
	CatalogFinish();
	if (version)
		*version = row.version;
	if (id)
		*id = row.id;
	return row.bundle;
}

/* The catalog's bytes as a bundle, checked completely (XX001 naming the model). */
static AeBundle *
StoredBundle(const bytea *bytes, const char *name)
{
	return ae_varlena_to_bundle(bytes, psprintf("stored model \"%s\" is unreadable", name));
}

AeBundle *
ae_catalog_fetch_id(const char *name, AeAccess access, int *version, int64 *id)
{
	bytea	   *bytes = CatalogFetchBytes(name, access, version, id);

	return StoredBundle(bytes, name);
}

AeBundle *
ae_catalog_fetch(const char *name, AeAccess access, int *version)
{
	return ae_catalog_fetch_id(name, access, version, NULL);
}

int
ae_catalog_check(const char *given, AeAccess access, int64 *id)
{
	AeModelName mn;
	Catalog		cat;
	ModelRow	row;

	ae_model_name_parse(given, &mn);
	CatalogOpen(&cat);
	CatalogConnect();
	FindChecked(&cat, &mn, access, false, false, CurrentMemoryContext, &row);
	CatalogFinish();
	if (id)
		*id = row.id;
	return row.version;
}

const char *
ae_catalog_qualify(const char *given)
{
	AeModelName mn;
	Catalog		cat;
	ModelRow	row;
	const char *qualified;

	ae_model_name_parse(given, &mn);
	CatalogOpen(&cat);
	CatalogConnect();
	if (!Resolve(&cat, &mn, false, false, CurrentMemoryContext, &row))
		ReportMissing(&mn);
	qualified = RowName(&row, mn.name);
	CatalogFinish();
	return qualified;
}

/* ---------------------------------------------------------------- SQL: save, load, history */

PG_FUNCTION_INFO_V1(ae_save);
Datum
ae_save(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AeBundle   *bundle;

	(void) ae_catalog_check_store(name);
	bundle = ae_varlena_to_bundle(PG_GETARG_BYTEA_PP(1), NULL);
	PG_RETURN_INT32(ae_catalog_store(name, bundle, InvalidOid));
}

PG_FUNCTION_INFO_V1(ae_load);
Datum
ae_load(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *bytes = CatalogFetchBytes(name, AE_ACCESS_OWN, NULL, NULL);

	/* checked before it is handed out: ae_model values are always valid */
	(void) StoredBundle(bytes, name);
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
	char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		if_exists = PG_GETARG_BOOL(1);
	AeModelName mn;
	Catalog		cat;
	ModelRow	row;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	ae_model_name_parse(given, &mn);
	CheckWritable("drop", mn.given);
	CatalogOpen(&cat);
	CatalogConnect();
	if (!Resolve(&cat, &mn, false, true, CurrentMemoryContext, &row))
	{
		CatalogFinish();
		if (!if_exists)
			ReportMissing(&mn);
		ereport(NOTICE,
				(errmsg("model \"%s\" does not exist, skipping", mn.given)));
		PG_RETURN_BOOL(false);
	}
	CheckAccess(&cat, mn.given, &row, AE_ACCESS_OWN);
	values[0] = Int64GetDatum(row.id);
	/* the grants go with it (ON DELETE CASCADE) */
	CatalogExecute(&cat, psprintf("DELETE FROM %s.ae_model_catalog WHERE id = $1", cat.schema),
				   1, types, values, NULL, false);
	Audit(&cat, "drop", row.id, RowName(&row, mn.name), NULL, NULL);
	CatalogFinish();
	PG_RETURN_BOOL(true);
}

/*
 * ae_rename(model, new_name): a bare new name stays in the model's schema
 * (as ALTER ... RENAME); a qualified one may move it to another schema, which
 * needs CREATE there (as ALTER ... SET SCHEMA).
 */
PG_FUNCTION_INFO_V1(ae_rename);
Datum
ae_rename(PG_FUNCTION_ARGS)
{
	char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *new_given = text_to_cstring(PG_GETARG_TEXT_PP(1));
	AeModelName mn,
				nn;
	Catalog		cat;
	ModelRow	row,
				other;
	char		target[NAMEDATALEN];
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	const char *old_shown,
			   *new_shown;

	ae_model_name_parse(given, &mn);
	ae_model_name_parse(new_given, &nn);
	CheckWritable("rename", mn.given);
	CatalogOpen(&cat);
	CatalogConnect();
	FindChecked(&cat, &mn, AE_ACCESS_OWN, false, true, CurrentMemoryContext, &row);
	if (nn.qualified && strcmp(nn.schema, row.schema) != 0)
	{
		Oid			nsp = LookupExplicitNamespace(nn.schema, false);

		if (isAnyTempNamespace(nsp))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot move model \"%s\" to a temporary schema", mn.given)));
		if (ae_namespace_aclcheck(nsp, cat.caller, ACL_CREATE) != ACLCHECK_OK)
			ReportNoCreate(nn.schema);
		strlcpy(target, get_namespace_name(nsp), NAMEDATALEN);
	}
	else
		strlcpy(target, row.schema, NAMEDATALEN);
	new_shown = ae_model_name_qualified(target, nn.name);
	if (LookupIn(&cat, target, nn.name, false, false, CurrentMemoryContext, &other))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", nn.given)));
	old_shown = RowName(&row, mn.name);
	values[0] = Int64GetDatum(row.id);
	values[1] = CStringGetTextDatum(nn.name);
	values[2] = CStringGetTextDatum(target);
	CatalogExecute(&cat, psprintf("UPDATE %s.ae_model_catalog SET name = $2, schema = $3 WHERE id = $1",
								  cat.schema),
				   3, types, values, NULL, false);
	Audit(&cat, "rename", row.id, old_shown, NULL, new_shown);
	CatalogFinish();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------- SQL: grant, revoke */

/*
 * ae_grant and ae_revoke: the owner adds or removes a grantee; a change is
 * audited, a no-op only noticed.
 */
static void
ChangeGrant(const char *given, Oid role, bool grant)
{
	AeModelName mn;
	Catalog		cat;
	ModelRow	row;
	Oid			types[3] = {INT8OID, OIDOID, OIDOID};
	Datum		values[3];
	const char *shown;

	ae_model_name_parse(given, &mn);
	CheckRole(role);
	CheckWritable(grant ? "grant" : "revoke", mn.given);
	CatalogOpen(&cat);
	CatalogConnect();
	FindChecked(&cat, &mn, AE_ACCESS_OWN, false, true, CurrentMemoryContext, &row);
	shown = RowName(&row, mn.name);
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
						mn.given, RoleName(role))));
	else
		Audit(&cat, grant ? "grant" : "revoke", row.id, shown, RoleName(role), NULL);
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

/* ---------------------------------------------------------------- owners and schemas */

/*
 * Run a statement over the catalog that returns (id, schema, name) of each
 * model it changed, and audit each.
 */
static int
ChangeEach(const Catalog *cat, const char *sql, int nargs, Oid *types, Datum *values,
		   const char *action, const char *role, const char *detail)
{
	uint64		n;
	int64	   *ids;
	char	  **names;

	CatalogExecute(cat, sql, nargs, types, values, NULL, false);
	n = SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	names = palloc(sizeof(char *) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(GetDatum(i, 1, &isnull));
		names[i] = pstrdup(ae_model_name_qualified(TextDatumGetCString(GetDatum(i, 2, &isnull)),
												   TextDatumGetCString(GetDatum(i, 3, &isnull))));
	}
	for (uint64 i = 0; i < n; i++)
		Audit(cat, action, ids[i], names[i], role, detail);
	return (int) n;
}

/*
 * ae_reassign_owned(old_role, new_role): REASSIGN OWNED for models, which
 * PostgreSQL's own command does not reach (it fires no event trigger).  The
 * same rule: the caller has the privileges of both roles.
 */
PG_FUNCTION_INFO_V1(ae_reassign_owned);
Datum
ae_reassign_owned(PG_FUNCTION_ARGS)
{
	Oid			old_role = PG_GETARG_OID(0);
	Oid			new_role = PG_GETARG_OID(1);
	Catalog		cat;
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2];
	int			n;

	CheckRole(old_role);
	CheckRole(new_role);
	CheckWritable("reassign", "*");
	CatalogOpen(&cat);
	if (!has_privs_of_role(cat.caller, old_role) || !has_privs_of_role(cat.caller, new_role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reassign models"),
				 errdetail("Only roles with privileges of role \"%s\" and role \"%s\" may reassign their models.",
						   RoleName(old_role), RoleName(new_role))));
	values[0] = ObjectIdGetDatum(old_role);
	values[1] = ObjectIdGetDatum(new_role);
	CatalogConnect();
	n = ChangeEach(&cat, psprintf("UPDATE %s.ae_model_catalog SET owner = $2::regrole "
								  "WHERE owner = $1::regrole RETURNING id, schema, name", cat.schema),
				   2, types, values, "reassign", RoleName(new_role), NULL);
	CatalogFinish();
	PG_RETURN_INT32(n);
}

void
ae_catalog_schema_renamed(const char *old_name, const char *new_name)
{
	Catalog		cat;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	CatalogOpen(&cat);
	values[0] = CStringGetTextDatum(old_name);
	values[1] = CStringGetTextDatum(new_name);
	CatalogConnect();
	CatalogExecute(&cat, psprintf("UPDATE %s.ae_model_catalog SET schema = $2 WHERE schema = $1", cat.schema),
				   2, types, values, NULL, false);
	CatalogFinish();
}

List *
ae_catalog_schema_models(const char *schema, int limit)
{
	Catalog		cat;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	List	   *names = NIL;
	MemoryContext caller_cxt = CurrentMemoryContext;

	CatalogOpen(&cat);
	values[0] = CStringGetTextDatum(schema);
	CatalogConnect();
	CatalogExecute(&cat, psprintf("SELECT name FROM %s.ae_model_catalog WHERE schema = $1 ORDER BY name LIMIT %d",
								  cat.schema, limit),
				   1, types, values, NULL, true);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *name = TextDatumGetCString(GetDatum(i, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(caller_cxt);

		names = lappend(names, pstrdup(ae_model_name_qualified(schema, name)));
		MemoryContextSwitchTo(old);
	}
	CatalogFinish();
	return names;
}

void
ae_catalog_drop_schema_models(const char *schema, const char *command)
{
	Catalog		cat;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	CatalogOpen(&cat);
	values[0] = CStringGetTextDatum(schema);
	CatalogConnect();
	(void) ChangeEach(&cat, psprintf("DELETE FROM %s.ae_model_catalog WHERE schema = $1 "
									 "RETURNING id, schema, name", cat.schema),
					  1, types, values, "drop", NULL, command);
	CatalogFinish();
}

void
ae_catalog_drop_owned(Oid role)
{
	Catalog		cat;
	Oid			types[1] = {OIDOID};
	Datum		values[1];

	CatalogOpen(&cat);
	values[0] = ObjectIdGetDatum(role);
	CatalogConnect();
	(void) ChangeEach(&cat, psprintf("DELETE FROM %s.ae_model_catalog WHERE owner = $1::regrole "
									 "RETURNING id, schema, name", cat.schema),
					  1, types, values, "drop", NULL, "DROP OWNED");
	(void) ChangeEach(&cat, psprintf("WITH g AS (DELETE FROM %s.ae_model_grants WHERE grantee = $1::regrole "
									 "RETURNING model_id) "
									 "SELECT m.id, m.schema, m.name FROM g JOIN %s.ae_model_catalog m ON m.id = g.model_id",
									 cat.schema, cat.schema),
					  1, types, values, "revoke", RoleName(role), "DROP OWNED");
	CatalogFinish();
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
