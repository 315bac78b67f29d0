/*
 * ae_trigger.c — ae_score_trigger(): score rows as they are written.
 *
 *   CREATE TRIGGER … BEFORE INSERT OR UPDATE ON t FOR EACH ROW
 *       EXECUTE FUNCTION ae_score_trigger(model, input_column, output_column [, action]);
 *
 * input_column is a real[] or double precision[] column, or '*' for a model
 * trained on named columns (its columns are then found by name in the row).
 * action:
 *   error   (default) output_column := ae_error(model, input)      float8, real or numeric
 *   score   output_column := ae_anomaly_score(model, input)         float8, real or numeric
 *   flag    output_column := ae_is_anomaly(model, input)            boolean
 *   reject  raise 23514 (check_violation) when ae_is_anomaly; otherwise
 *           output_column := ae_error (output_column may be '' for none)
 * A NULL input writes NULL (and is accepted by reject, like a CHECK
 * constraint).  The arguments and column types are checked at the trigger's
 * first row in each statement.
 *
 * The model is a fixed identity, never resolved through the search_path of
 * whoever happens to write a row: schema.name as given, or a bare name in
 * the schema of the trigger's table.  So a model dropped and created again
 * by another role in another schema is never picked up: the trigger fails
 * (42704) until the model is back where it names it, and only a role with
 * CREATE on that schema can put one there.  (A temporary table, whose
 * schema cannot hold models, resolves a bare name through the search_path
 * of its session, once per statement.)
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "ae_catalog.h"
#include "ae_scorer.h"

typedef enum TriggerAction
{
	ACTION_ERROR,
	ACTION_SCORE,
	ACTION_FLAG,
	ACTION_REJECT
} TriggerAction;

static const char *const ActionNames[] = {"error", "score", "flag", "reject"};

/* What the first row of a statement worked out, in fn_extra. */
typedef struct TriggerState
{
	Oid			tgoid;			/* the trigger it was checked for */
	Oid			relid;
	TriggerAction action;
	AttrNumber	in_attno;		/* 0: the whole row ('*') */
	AttrNumber	out_attno;		/* 0: none (reject with '') */
	Oid			out_type;
	int32		out_typmod;
	const char *model;			/* trigger argument 0 */
	AeScorer   *scorer;
} TriggerState;

PG_FUNCTION_INFO_V1(ae_score_trigger);

static AttrNumber
FindColumn(Relation rel, const char *name, const char *role)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
		{
			if (att->attgenerated)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("ae_score_trigger: %s column \"%s\" of relation \"%s\" is a generated column",
								role, name, RelationGetRelationName(rel))));
			return i + 1;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("ae_score_trigger: %s column \"%s\" of relation \"%s\" does not exist",
					role, name, RelationGetRelationName(rel))));
	return InvalidAttrNumber;
}

/* The trigger's model as schema.name (see above). */
static const char *
TriggerModel(const char *given, Relation rel)
{
	AeModelName mn;

	ae_model_name_parse(given, &mn);
	if (mn.qualified)
		return ae_model_name_qualified(mn.schema, mn.name);

	/*
	 * A temporary table's schema holds no models; its triggers fire only in
	 * the session that made it, so its search_path decides, once per
	 * statement.
	 */
	if (RelationUsesLocalBuffers(rel))
		return ae_catalog_qualify(given);
	return ae_model_name_qualified(get_namespace_name(RelationGetNamespace(rel)), mn.name);
}

/* Check how the trigger was created and fired; fill st. */
static void
CheckTrigger(TriggerData *td, TriggerState *st)
{
	Trigger    *tg = td->tg_trigger;
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	char	  **args = tg->tgargs;
	const char *action_name;
	Form_pg_attribute att;

	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ae_score_trigger must be fired BEFORE INSERT OR UPDATE FOR EACH ROW"),
				 errdetail("Trigger \"%s\" on relation \"%s\" is not.",
						   tg->tgname, RelationGetRelationName(rel))));
	if (tg->tgnargs < 3 || tg->tgnargs > 4)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ae_score_trigger needs 3 or 4 arguments, not %d", tg->tgnargs),
				 errhint("The arguments are model, input_column, output_column and optionally "
						 "action (error, score, flag or reject).")));

	action_name = tg->tgnargs == 4 ? args[3] : "error";
	for (st->action = ACTION_ERROR; st->action <= ACTION_REJECT; st->action++)
		if (strcmp(action_name, ActionNames[st->action]) == 0)
			break;
	if (st->action > ACTION_REJECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ae_score_trigger: unknown action \"%s\"", action_name),
				 errhint("Valid actions are error, score, flag and reject.")));

	st->model = TriggerModel(args[0], rel);

	/* input: an array column, or '*' */
	if (strcmp(args[1], "*") == 0)
		st->in_attno = 0;
	else
	{
		Oid			type;

		st->in_attno = FindColumn(rel, args[1], "input");
		type = TupleDescAttr(desc, st->in_attno - 1)->atttypid;
		if (getBaseType(type) != FLOAT4ARRAYOID && getBaseType(type) != FLOAT8ARRAYOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("ae_score_trigger: input column \"%s\" has type %s",
							args[1], format_type_be(type)),
					 errhint("The input column must be real[] or double precision[], "
							 "or '*' for a model trained on named columns.")));
	}

	/* output */
	if (args[2][0] == '\0')
	{
		if (st->action != ACTION_REJECT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ae_score_trigger: action \"%s\" needs an output column",
							ActionNames[st->action]),
					 errhint("Only action reject may have '' as its output column.")));
		st->out_attno = 0;
		return;
	}
	st->out_attno = FindColumn(rel, args[2], "output");
	if (st->out_attno == st->in_attno)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ae_score_trigger: the output column cannot be the input column")));
	att = TupleDescAttr(desc, st->out_attno - 1);
	st->out_type = att->atttypid;
	st->out_typmod = att->atttypmod;
	if (st->action == ACTION_FLAG ? st->out_type != BOOLOID
		: (st->out_type != FLOAT8OID && st->out_type != FLOAT4OID && st->out_type != NUMERICOID))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("ae_score_trigger: output column \"%s\" has type %s",
						args[2], format_type_be(st->out_type)),
				 errhint(st->action == ACTION_FLAG
						 ? "Action flag writes a boolean column."
						 : "Actions error, score and reject write a double precision, real or numeric column.")));
}

static Datum
NumberDatum(double v, const TriggerState *st)
{
	Datum		d;

	switch (st->out_type)
	{
		case FLOAT8OID:
			return Float8GetDatum(v);
		case FLOAT4OID:
			return DirectFunctionCall1(dtof, Float8GetDatum(v));	/* 22003 on overflow */
		default:
			d = DirectFunctionCall1(float8_numeric, Float8GetDatum(v));
			if (st->out_typmod >= 0)
				d = DirectFunctionCall2(numeric, d, Int32GetDatum(st->out_typmod));
			return d;
	}
}

Datum
ae_score_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TriggerState *st;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tuple;
	Datum		input = (Datum) 0;
	bool		input_null = false;
	Datum		value = (Datum) 0;
	bool		value_null = false;
	double		mse;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ae_score_trigger: not called by trigger manager")));
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;

	st = (TriggerState *) fcinfo->flinfo->fn_extra;
	if (st == NULL || st->tgoid != td->tg_trigger->tgoid || st->relid != RelationGetRelid(rel))
	{
		TriggerState tmp;

		memset(&tmp, 0, sizeof(tmp));
		CheckTrigger(td, &tmp);
		tmp.tgoid = td->tg_trigger->tgoid;
		tmp.relid = RelationGetRelid(rel);
		if (st == NULL)
		{
			st = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TriggerState));
			st->scorer = ae_scorer_create(fcinfo->flinfo->fn_mcxt);
			fcinfo->flinfo->fn_extra = st;
		}
		tmp.scorer = st->scorer;
		tmp.model = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, tmp.model);
		*st = tmp;
	}

	if (st->in_attno > 0)
		input = heap_getattr(tuple, st->in_attno, desc, &input_null);

	if (input_null)
		value_null = true;
	else
	{
		AeScorer   *s = st->scorer;

		ae_scorer_bind(s, st->model, strlen(st->model));
		if (st->in_attno > 0)
			ae_scorer_load_array(s, input, AE_MISSING_ERROR);
		else
			ae_scorer_load_tuple(s, tuple, desc, AE_MISSING_ERROR);
		ae_scorer_reconstruct(s);
		mse = ae_scorer_error(s, AE_METRIC_MSE);

		switch (st->action)
		{
			case ACTION_ERROR:
				value = NumberDatum(mse, st);
				break;
			case ACTION_SCORE:
				value = NumberDatum(ae_scorer_anomaly_score(s, mse), st);
				break;
			case ACTION_FLAG:
				value = BoolGetDatum(mse > ae_scorer_threshold(s));
				break;
			case ACTION_REJECT:
				if (mse > ae_scorer_threshold(s))
				{
					bool		has_q = !isnan(s->entry->quantiles[0]);

					ereport(ERROR,
							(errcode(ERRCODE_CHECK_VIOLATION),
							 errmsg("row of relation \"%s\" rejected as an anomaly by model \"%s\"",
									RelationGetRelationName(rel), s->name),
							 has_q
							 ? errdetail("Its reconstruction error %g is above the model's threshold %g "
										 "(anomaly score %.4f).",
										 mse, s->entry->threshold, ae_scorer_anomaly_score(s, mse))
							 : errdetail("Its reconstruction error %g is above the model's threshold %g.",
										 mse, s->entry->threshold),
							 errtable(rel)));
				}
				if (st->out_attno > 0)
					value = NumberDatum(mse, st);
				break;
		}
	}

	if (st->out_attno > 0)
	{
		int			attno = st->out_attno;

		tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &attno, &value, &value_null);
	}
	return PointerGetDatum(tuple);
}
