/*
 * ae_ddl.c — models follow their schema and their owner through DDL.
 *
 * Models are not PostgreSQL objects, so pg_depend cannot tie them to their
 * schema or pg_shdepend to their owner; two event triggers of the extension
 * do instead (sql/autoenc--0.2.0.sql):
 *
 *   ddl_command_start of ALTER SCHEMA ... RENAME: the models' schema is
 *       renamed with it (in the same transaction: if the rename fails, so
 *       does this);
 *   ddl_command_start of DROP SCHEMA without CASCADE: refused while the
 *       schema holds models (2BP01), as it is while it holds tables;
 *   ddl_command_start of DROP OWNED BY: the models the roles own are dropped
 *       and the grants they hold revoked;
 *   sql_drop of DROP SCHEMA ... CASCADE and DROP OWNED: the models of every
 *       schema dropped go with it.
 *
 * PostgreSQL fires no event trigger for REASSIGN OWNED and DROP ROLE (they
 * concern global objects): ae_reassign_owned() does the former for models,
 * and a dropped role's models stay, usable by superusers only, until one of
 * them reassigns or drops them.  Every catalog change here is audited.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "ae_catalog.h"

/* How many of a schema's models a refused DROP SCHEMA lists. */
#define AE_DDL_LIST_MODELS 10

static EventTriggerData *
CheckEventTrigger(FunctionCallInfo fcinfo, const char *name)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s: not fired by event trigger manager", name)));
	return (EventTriggerData *) fcinfo->context;
}

/* DROP SCHEMA s (RESTRICT): refuse while s holds models. */
static void
RefuseDropSchema(DropStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		const char *schema = strVal(lfirst(lc));
		List	   *models;
		StringInfoData detail;
		ListCell   *m;

		/* a schema that does not exist holds nothing of ours either */
		if (!OidIsValid(get_namespace_oid(schema, true)))
			continue;
		models = ae_catalog_schema_models(schema, AE_DDL_LIST_MODELS + 1);
		if (models == NIL)
			continue;
		initStringInfo(&detail);
		foreach(m, models)
		{
			if (foreach_current_index(m) == AE_DDL_LIST_MODELS)
			{
				appendStringInfoString(&detail, "\nand more models");
				break;
			}
			appendStringInfo(&detail, "%smodel %s depends on schema %s",
							 detail.len > 0 ? "\n" : "", (char *) lfirst(m), quote_identifier(schema));
		}
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop schema %s because other objects depend on it", quote_identifier(schema)),
				 errdetail("%s", detail.data),
				 errhint("Use DROP ... CASCADE to drop the dependent objects too, "
						 "or move the models elsewhere with ae_rename().")));
	}
}

PG_FUNCTION_INFO_V1(ae_ddl_command_start);
Datum
ae_ddl_command_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata = CheckEventTrigger(fcinfo, "ae_ddl_command_start");
	Node	   *parsetree = trigdata->parsetree;

	if (!ae_catalog_present())
		PG_RETURN_VOID();

	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;

		if (stmt->renameType == OBJECT_SCHEMA &&
			OidIsValid(get_namespace_oid(stmt->subname, true)))
			ae_catalog_schema_renamed(stmt->subname, stmt->newname);
	}
	else if (IsA(parsetree, DropStmt))
	{
		DropStmt   *stmt = (DropStmt *) parsetree;

		if (stmt->removeType == OBJECT_SCHEMA && stmt->behavior != DROP_CASCADE)
			RefuseDropSchema(stmt);
	}
	else if (IsA(parsetree, DropOwnedStmt))
	{
		DropOwnedStmt *stmt = (DropOwnedStmt *) parsetree;
		ListCell   *lc;

		/*
		 * Only for roles the caller may act for: DROP OWNED itself refuses
		 * the others right after this, undoing everything.
		 */
		foreach(lc, stmt->roles)
		{
			Oid			role = get_rolespec_oid(lfirst(lc), true);

			if (OidIsValid(role) && has_privs_of_role(GetUserId(), role))
				ae_catalog_drop_owned(role);
		}
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ae_sql_drop);
Datum
ae_sql_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata = CheckEventTrigger(fcinfo, "ae_sql_drop");
	List	   *schemas = NIL;
	MemoryContext caller_cxt = CurrentMemoryContext;
	ListCell   *lc;
	int			ret;

	if (!ae_catalog_present())
		PG_RETURN_VOID();

	/* the schemas this command dropped, as the function that lists them says */
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	ret = SPI_execute("SELECT object_identity FROM pg_catalog.pg_event_trigger_dropped_objects() "
					  "WHERE object_type OPERATOR(pg_catalog.=) 'schema'", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *identity = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(caller_cxt);
		List	   *parts = NIL;

		/* object_identity is the quoted name: split it back */
		if (identity && SplitIdentifierString(pstrdup(identity), '.', &parts) && list_length(parts) == 1)
			schemas = lappend(schemas, pstrdup(linitial(parts)));
		MemoryContextSwitchTo(old);
	}
	if ((ret = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(ret));

	foreach(lc, schemas)
		ae_catalog_drop_schema_models(lfirst(lc), trigdata->tag ? GetCommandTagName(trigdata->tag) : "DROP");
	PG_RETURN_VOID();
}
