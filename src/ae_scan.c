/*
 * ae_scan.c — one pass over the rows of a relation, for ae_train: through
 * the table access method when that is sure to return what a SELECT by the
 * caller would, else through the executor (an SPI cursor).
 *
 * The direct path is a sequential scan with a slot under the calling
 * statement's snapshot, deforming only the columns needed.  It is used only
 * for a plain table or a populated materialized view without inheritance
 * children, whose columns need no cast (real or double precision arrays;
 * smallint, integer, bigint, real or double precision columns), when the
 * caller holds SELECT on the relation or on every column read and no
 * row-level security applies to the caller (check_enable_rls says
 * RLS_NONE).  Anything else — views, foreign and partitioned tables,
 * inheritance parents, numeric columns, missing privileges (the executor
 * then raises the permission error), policies in force, or policies the
 * caller bypasses only by ownership or BYPASSRLS — goes through the
 * executor exactly as a SELECT would.
 *
 * Both paths read under the same snapshot: the SPI cursor is read-only, so
 * it uses the active snapshot of the calling statement, and the direct
 * scan registers that same snapshot.  Every pass of a streaming training
 * therefore sees the same rows in the same order, whatever other sessions
 * commit meanwhile.
 *
 * Values are detoasted and converted in a memory context that is reset
 * every AE_SCAN_BATCH rows, with a check for interrupts at the same pace.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "ae_training.h"

/* rows per SPI fetch, and per reset of the row context on both paths */
#define AE_SCAN_BATCH 1000

struct AeScan
{
	const AeScanSpec *spec;
	bool		direct;
	MemoryContext row_cxt;		/* reset every AE_SCAN_BATCH rows */
	int			in_batch;		/* rows since the last reset */

	/* direct */
	Relation	rel;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	AttrNumber *attnums;		/* per value read */
	Oid		   *typids;			/* their types (base types) */
	AttrNumber	max_attnum;

	/* executor */
	Portal		portal;
	SPIPlanPtr	plan;
	SPITupleTable *tuptable;
	uint64		next;			/* in tuptable */

	const char *why;			/* the direct path is not used because ... */
	instr_time	start;
	int64		n_rows;

	/* the current row's values */
	int			nvalues;
	Datum	   *values;
	bool	   *isnull;
};

/* ---------------------------------------------------------------- which path */

static bool
DirectScalarType(Oid typid)
{
	return typid == INT2OID || typid == INT4OID || typid == INT8OID ||
		typid == FLOAT4OID || typid == FLOAT8OID;
}

/* May this caller read spec's values of relid through the table AM? */
static bool
CanReadDirect(const AeScanSpec *spec, const char **why)
{
	Oid			relid = spec->relid;
	char		kind = get_rel_relkind(relid);
	Oid			user = GetUserId();
	bool		all_columns;
	int			n = spec->input ? 1 : spec->ncols;

	if (kind != RELKIND_RELATION && kind != RELKIND_MATVIEW)
	{
		*why = "it is not a table or materialized view";
		return false;
	}
	if (has_subclass(relid))
	{
		*why = "it has inheritance children";
		return false;
	}
	/* the executor raises the error for a missing privilege */
	all_columns = pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK;
	for (int j = 0; j < n; j++)
	{
		const char *name = spec->input ? spec->input : spec->colnames[j];
		AttrNumber	attnum = get_attnum(relid, name);
		Oid			typid = getBaseType(get_atttype(relid, attnum));

		if (!all_columns &&
			pg_attribute_aclcheck(relid, attnum, user, ACL_SELECT) != ACLCHECK_OK)
		{
			*why = "the current role lacks SELECT on it";
			return false;
		}
		if (spec->input)
		{
			Oid			elem = getBaseType(get_element_type(typid));

			if (elem != FLOAT4OID && elem != FLOAT8OID)
			{
				*why = "its input column needs a cast";
				return false;
			}
		}
		else if (!spec->raw && !DirectScalarType(typid))
		{
			*why = "a column needs a cast";
			return false;
		}
	}
	if (check_enable_rls(relid, InvalidOid, false) != RLS_NONE)
	{
		*why = "row-level security is enabled on it";
		return false;
	}
	*why = NULL;
	return true;
}

bool
AeScanIsDirect(const AeScanSpec *spec)
{
	const char *why;

	return CanReadDirect(spec, &why);
}

/* ---------------------------------------------------------------- begin / end */

static char *
BuildQuery(const AeScanSpec *spec)
{
	StringInfoData q;
	char	   *relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(spec->relid)),
													 get_rel_name(spec->relid));

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	if (spec->input)
		appendStringInfo(&q, "CAST(%s AS pg_catalog.%s)", quote_identifier(spec->input),
						 spec->float4 ? "float4[]" : "float8[]");
	else if (spec->raw)
		for (int j = 0; j < spec->ncols; j++)
			appendStringInfo(&q, "%s%s", j ? ", " : "", quote_identifier(spec->colnames[j]));
	else
		for (int j = 0; j < spec->ncols; j++)
			appendStringInfo(&q, "%sCAST(%s AS pg_catalog.float8)", j ? ", " : "",
							 quote_identifier(spec->colnames[j]));
	appendStringInfo(&q, " FROM %s", relname);
	return q.data;
}

static void
BeginDirect(AeScan *s)
{
	const AeScanSpec *spec = s->spec;

	s->rel = table_open(spec->relid, AccessShareLock);
	if (s->rel->rd_rel->relkind == RELKIND_MATVIEW && !RelationIsPopulated(s->rel))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("materialized view \"%s\" has not been populated",
						RelationGetRelationName(s->rel)),
				 errhint("Use the REFRESH MATERIALIZED VIEW command.")));
	s->attnums = palloc(sizeof(AttrNumber) * s->nvalues);
	s->typids = palloc(sizeof(Oid) * s->nvalues);
	for (int j = 0; j < s->nvalues; j++)
	{
		const char *name = spec->input ? spec->input : spec->colnames[j];

		s->attnums[j] = get_attnum(spec->relid, name);
		s->typids[j] = getBaseType(get_atttype(spec->relid, s->attnums[j]));
		s->max_attnum = Max(s->max_attnum, s->attnums[j]);
	}
	s->snapshot = RegisterSnapshot(GetActiveSnapshot());
	/*
	 * No synchronized scan: every pass must start at the first block, so
	 * that the rows come in the same order each time.  The ring-buffer
	 * strategy stays, as for any large sequential scan.
	 */
	s->scan = table_beginscan_strat(s->rel, s->snapshot, 0, NULL, true, false);
	s->slot = table_slot_create(s->rel, NULL);
}

static void
BeginExecutor(AeScan *s)
{
	char	   *query = BuildQuery(s->spec);
	MemoryContext caller = CurrentMemoryContext;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	/* what the caller allocates between passes' rows must outlive SPI_finish */
	MemoryContextSwitchTo(caller);
	s->plan = SPI_prepare(query, 0, NULL);
	if (s->plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query,
			 SPI_result_code_string(SPI_result));
	/* read-only: the calling statement's snapshot, as for the direct path */
	s->portal = SPI_cursor_open(NULL, s->plan, NULL, NULL, true);
}

AeScan *
AeScanBegin(const AeScanSpec *spec, bool allow_direct)
{
	AeScan	   *s = palloc0(sizeof(AeScan));
	const char *why = "the direct path was not asked for";

	s->spec = spec;
	s->nvalues = spec->input ? 1 : spec->ncols;
	s->values = palloc0(sizeof(Datum) * s->nvalues);
	s->isnull = palloc0(sizeof(bool) * s->nvalues);
	s->direct = allow_direct && CanReadDirect(spec, &why);
	s->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "autoenc scan rows",
									   ALLOCSET_DEFAULT_SIZES);
	if (s->direct)
		BeginDirect(s);
	else
		BeginExecutor(s);
	s->why = why;
	INSTR_TIME_SET_CURRENT(s->start);
	return s;
}

bool
AeScanDirect(const AeScan *s)
{
	return s->direct;
}

void
AeScanEnd(AeScan *s)
{
	if (s->spec->verbose)
	{
		instr_time	t;

		INSTR_TIME_SET_CURRENT(t);
		INSTR_TIME_SUBTRACT(t, s->start);
		if (s->direct)
			ereport(NOTICE,
					(errmsg("read " INT64_FORMAT " rows of relation \"%s\" with a table scan",
							s->n_rows, s->spec->relname),
					 errdetail("In %.3f s.", INSTR_TIME_GET_DOUBLE(t))));
		else
			ereport(NOTICE,
					(errmsg("read " INT64_FORMAT " rows of relation \"%s\" through the executor",
							s->n_rows, s->spec->relname),
					 errdetail("In %.3f s; the table scan is not used because %s.",
							   INSTR_TIME_GET_DOUBLE(t), s->why)));
	}
	if (s->direct)
	{
		ExecDropSingleTupleTableSlot(s->slot);
		table_endscan(s->scan);
		UnregisterSnapshot(s->snapshot);
		table_close(s->rel, AccessShareLock);
	}
	else
	{
		int			ret;

		if (s->tuptable)
			SPI_freetuptable(s->tuptable);
		SPI_cursor_close(s->portal);
		SPI_freeplan(s->plan);
		if ((ret = SPI_finish()) != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(ret));
	}
	MemoryContextDelete(s->row_cxt);
	pfree(s->values);
	pfree(s->isnull);
	pfree(s);
}

/* ---------------------------------------------------------------- rows */

static bool
NextDirect(AeScan *s)
{
	if (!table_scan_getnextslot(s->scan, ForwardScanDirection, s->slot))
		return false;
	slot_getsomeattrs(s->slot, s->max_attnum);
	for (int j = 0; j < s->nvalues; j++)
	{
		s->values[j] = s->slot->tts_values[s->attnums[j] - 1];
		s->isnull[j] = s->slot->tts_isnull[s->attnums[j] - 1];
	}
	return true;
}

static bool
NextExecutor(AeScan *s)
{
	if (s->tuptable == NULL || s->next >= s->tuptable->numvals)
	{
		if (s->tuptable)
		{
			SPI_freetuptable(s->tuptable);
			s->tuptable = NULL;
		}
		SPI_cursor_fetch(s->portal, true, AE_SCAN_BATCH);
		if (SPI_processed == 0)
			return false;
		s->tuptable = SPI_tuptable;
		s->next = 0;
	}
	for (int j = 0; j < s->nvalues; j++)
		s->values[j] = SPI_getbinval(s->tuptable->vals[s->next], s->tuptable->tupdesc,
									 j + 1, &s->isnull[j]);
	s->next++;
	return true;
}

bool
AeScanNext(AeScan *s)
{
	if (++s->in_batch >= AE_SCAN_BATCH)
	{
		s->in_batch = 0;
		MemoryContextReset(s->row_cxt);
		CHECK_FOR_INTERRUPTS();
	}
	if (!(s->direct ? NextDirect(s) : NextExecutor(s)))
		return false;
	s->n_rows++;
	return true;
}

/* A scalar column's value as double: the executor path has cast it already. */
static double
ScalarValue(const AeScan *s, int j)
{
	Datum		v = s->values[j];

	if (!s->direct)
		return DatumGetFloat8(v);
	switch (s->typids[j])
	{
		case INT2OID:
			return (double) DatumGetInt16(v);
		case INT4OID:
			return (double) DatumGetInt32(v);
		case INT8OID:
			return (double) DatumGetInt64(v);
		case FLOAT4OID:
			return (double) DatumGetFloat4(v);
		default:
			return DatumGetFloat8(v);
	}
}

void
AeScanConvert(AeScan *s, int d, float *out, int *width, AeRowCheck *c, const char *what)
{
	const AeScanSpec *spec = s->spec;
	MemoryContext old = MemoryContextSwitchTo(s->row_cxt);

	c->problem = AE_ROW_OK;
	if (spec->input)
	{
		if (s->isnull[0])
			c->problem = AE_ROW_NULL;
		else
			AeConvertArray(DatumGetArrayTypeP(s->values[0]), spec->float4, d, out, width, c, what);
	}
	else
	{
		*width = spec->ncols;
		for (int j = 0; j < spec->ncols; j++)
		{
			double		v;

			if (s->isnull[j])
			{
				c->problem = AE_ROW_NULL;
				c->index = j + 1;
				break;
			}
			v = ScalarValue(s, j);
			if (!AeCheckValue(c, j + 1, v))
				break;
			if (out)
				out[j] = (float) v;
		}
	}
	MemoryContextSwitchTo(old);
}

Datum
AeScanValue(AeScan *s, int j, bool *isnull)
{
	*isnull = s->isnull[j];
	return s->values[j];
}

MemoryContext
AeScanRowContext(AeScan *s)
{
	return s->row_cxt;
}
