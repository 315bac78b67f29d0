/*
 * ae_data.c — the rows ae_train() learns from, read through an SPI cursor.
 *
 * The relation comes in as a regclass and its columns are looked up in the
 * catalog before any SQL is built, so only quoted, existing identifiers
 * reach the query text.  The query runs with the caller's privileges, so
 * table and column privileges and row-level security apply as for any
 * SELECT the caller writes.
 *
 * Rows arrive 10 000 at a time and are copied into one row-major float
 * matrix that grows geometrically, never beyond what autoenc.max_train_memory
 * allows: the budget is checked before every allocation.  With max_rows the
 * matrix holds a seeded uniform sample (reservoir sampling, algorithm R).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "ae_rng.h"
#include "ae_training.h"

/*
 * Rows per cursor fetch.  The fetched tuples are not counted against
 * autoenc.max_train_memory, so a batch is kept small next to it (1000 rows
 * of 784 double precision values are about 6 MB).
 */
#define AE_FETCH_ROWS 1000

typedef struct Reader
{
	Oid			relid;
	const char *relname;
	const char *input;			/* array column, or NULL */
	bool		float4;			/* its elements are real */
	char	  **colnames;		/* named columns */
	int			ncols;
	AeTrainOptions *opts;
	const AeBundle *warm;
	const char *what;
	MemoryContext matrix_cxt;	/* where the matrix lives */

	float	   *row;			/* the row being converted (d floats, once d is known) */
	int64		cap;			/* rows the matrix has room for */
	int64		limit;			/* rows the budget (and max_rows) allow */
	Size		fixed;
	Size		per_row;
	AeRng		rng;			/* reservoir sampling */
	int64		n_valid;		/* valid rows seen (the reservoir's stream) */
	AeData	   *data;
} Reader;

/* ---------------------------------------------------------------- checks */

static void
CheckRelkind(Oid relid)
{
	char		kind = get_rel_relkind(relid);

	if (kind != RELKIND_RELATION && kind != RELKIND_VIEW && kind != RELKIND_MATVIEW &&
		kind != RELKIND_PARTITIONED_TABLE && kind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table, view, materialized view or foreign table",
						get_rel_name(relid))));
}

static bool
NumericScalarType(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return true;
		default:
			return false;
	}
}

/* The attribute number of column name, or 42703. */
static AttrNumber
LookupColumn(Oid relid, const char *relname, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", name, relname)));
	return attnum;
}

/* Returns true when the elements are real (read as they are, not as double). */
static bool
CheckArrayColumn(Oid relid, const char *relname, const char *name)
{
	AttrNumber	attnum = LookupColumn(relid, relname, name);
	Oid			typid = get_atttype(relid, attnum);
	Oid			elem = get_element_type(getBaseType(typid));

	if (!OidIsValid(elem) || !NumericScalarType(getBaseType(elem)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" has type %s", name, relname,
						format_type_be(typid)),
				 errdetail("The input column must be an array of real, double precision, numeric, smallint, integer or bigint."),
				 errhint("To train on several scalar columns, pass input => NULL and columns => '{...}'.")));
	return getBaseType(elem) == FLOAT4OID;
}

static void
CheckScalarColumn(Oid relid, const char *relname, const char *name)
{
	AttrNumber	attnum = LookupColumn(relid, relname, name);
	Oid			typid = get_atttype(relid, attnum);

	if (!NumericScalarType(getBaseType(typid)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" has type %s", name, relname,
						format_type_be(typid)),
				 errdetail("Input columns must be real, double precision, numeric, smallint, integer or bigint.")));
}

/* The columns option: a non-empty one-dimensional text[] of distinct names. */
static void
ParseColumns(Reader *r, ArrayType *columns)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(columns) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"columns\" must be a one-dimensional array")));
	deconstruct_array(columns, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"columns\" must name at least one column")));
	if (n > AE_MAX_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("option \"columns\" names %d columns, more than the maximum %d",
						n, AE_MAX_WIDTH)));
	r->colnames = palloc(sizeof(char *) * n);
	r->ncols = n;
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("option \"columns\" must not contain NULL")));
		r->colnames[i] = TextDatumGetCString(elems[i]);
		for (int k = 0; k < i; k++)
			if (strcmp(r->colnames[k], r->colnames[i]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" is listed twice in option \"columns\"",
								r->colnames[i])));
		CheckScalarColumn(r->relid, r->relname, r->colnames[i]);
	}
}

/* reltuples of the relation, or -1 when unknown (never analysed, a view) */
static double
EstimatedRows(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	double		reltuples = -1;

	if (HeapTupleIsValid(tup))
	{
		reltuples = ((Form_pg_class) GETSTRUCT(tup))->reltuples;
		ReleaseSysCache(tup);
	}
	return reltuples;
}

/* ---------------------------------------------------------------- row conversion */

static bool
CheckValue(AeRowCheck *c, int index, double v)
{
	if (isnan(v))
		c->problem = AE_ROW_NAN;
	else if (isinf(v))
		c->problem = AE_ROW_INFINITE;
	else if (fabs(v) > FLT_MAX)
		c->problem = AE_ROW_OUT_OF_RANGE;
	else
		return true;
	c->index = index;
	c->value = v;
	return false;
}

void
AeConvertArray(ArrayType *arr, bool float4, int d, float *out, int *width,
			   AeRowCheck *c, const char *what)
{
	int			n;

	c->problem = AE_ROW_OK;
	if (ARR_NDIM(arr) > 1)
	{
		c->problem = AE_ROW_NOT_1D;
		c->count = ARR_NDIM(arr);
		return;
	}
	n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	*width = n;
	if (n == 0)
	{
		c->problem = AE_ROW_EMPTY;
		return;
	}
	if (d > 0 && n != d)
	{
		c->problem = AE_ROW_RAGGED;
		c->count = n;
		return;
	}
	if (ARR_HASNULL(arr))
	{
		bits8	   *bitmap = ARR_NULLBITMAP(arr);

		for (int i = 0; i < n; i++)
			if (!(bitmap[i / 8] & (1 << (i % 8))))
			{
				c->problem = AE_ROW_NULL_ELEMENT;
				c->index = i + 1;
				return;
			}
	}
	if (n > AE_MAX_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: input arrays have %d elements, more than the maximum %d",
						what, n, AE_MAX_WIDTH)));
	if (float4)
	{
		const float *v = (const float *) ARR_DATA_PTR(arr);

		for (int i = 0; i < n; i++)
		{
			if (!CheckValue(c, i + 1, v[i]))
				return;
			if (out)
				out[i] = v[i];
		}
	}
	else
	{
		const double *v = (const double *) ARR_DATA_PTR(arr);

		for (int i = 0; i < n; i++)
		{
			if (!CheckValue(c, i + 1, v[i]))
				return;
			if (out)
				out[i] = (float) v[i];
		}
	}
}

static void
ConvertColumns(Reader *r, HeapTuple tuple, TupleDesc desc, AeRowCheck *c)
{
	c->problem = AE_ROW_OK;
	for (int j = 0; j < r->ncols; j++)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(tuple, desc, j + 1, &isnull);
		double		v;

		if (isnull)
		{
			c->problem = AE_ROW_NULL;
			c->index = j + 1;
			return;
		}
		v = DatumGetFloat8(value);
		if (!CheckValue(c, j + 1, v))
			return;
		r->row[j] = (float) v;
	}
}

void
AeReportRow(const char *what, int64 row_no, const char *input,
			char **colnames, const AeRowCheck *c, int d)
{
	StringInfoData msg;
	int			code = ERRCODE_DATA_EXCEPTION;

	initStringInfo(&msg);
	appendStringInfo(&msg, "%s: row " INT64_FORMAT ": ", what, row_no);
	if (colnames == NULL)
	{
		switch (c->problem)
		{
			case AE_ROW_NULL:
				code = ERRCODE_NULL_VALUE_NOT_ALLOWED;
				if (input)
					appendStringInfo(&msg, "\"%s\" is NULL", input);
				else
					appendStringInfoString(&msg, "the input array is NULL");
				break;
			case AE_ROW_NULL_ELEMENT:
				code = ERRCODE_NULL_VALUE_NOT_ALLOWED;
				appendStringInfo(&msg, "element %d is NULL", c->index);
				break;
			case AE_ROW_NAN:
				appendStringInfo(&msg, "element %d is NaN", c->index);
				break;
			case AE_ROW_INFINITE:
				code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
				appendStringInfo(&msg, "element %d is infinite", c->index);
				break;
			case AE_ROW_OUT_OF_RANGE:
				code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
				appendStringInfo(&msg, "element %d (%g) is out of range for type real",
								 c->index, c->value);
				break;
			case AE_ROW_NOT_1D:
				code = ERRCODE_ARRAY_SUBSCRIPT_ERROR;
				appendStringInfo(&msg, "the array has %d dimensions, input arrays must be one-dimensional",
								 c->count);
				break;
			case AE_ROW_EMPTY:
				appendStringInfoString(&msg, "the array is empty");
				break;
			case AE_ROW_RAGGED:
				appendStringInfo(&msg, "the array has %d elements, expected %d like the rows before it",
								 c->count, d);
				break;
			case AE_ROW_OK:
				break;
		}
	}
	else
	{
		const char *col = colnames[c->index - 1];

		switch (c->problem)
		{
			case AE_ROW_NULL:
				code = ERRCODE_NULL_VALUE_NOT_ALLOWED;
				appendStringInfo(&msg, "column \"%s\" is NULL", col);
				break;
			case AE_ROW_NAN:
				appendStringInfo(&msg, "column \"%s\" is NaN", col);
				break;
			case AE_ROW_INFINITE:
				code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
				appendStringInfo(&msg, "column \"%s\" is infinite", col);
				break;
			case AE_ROW_OUT_OF_RANGE:
				code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
				appendStringInfo(&msg, "column \"%s\" (%g) is out of range for type real",
								 col, c->value);
				break;
			default:
				elog(ERROR, "unexpected row problem %d. Please report a bug.", (int) c->problem);
		}
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", msg.data),
			 errhint("Filter such rows out, or set the option skip_invalid to leave them out.")));
}

/* ---------------------------------------------------------------- the matrix */

/* The width is known: resolve the architecture and size the first allocation. */
static void
StartMatrix(Reader *r, int d)
{
	AeData	   *data = r->data;
	double		estimate = EstimatedRows(r->relid);
	int64		cap;

	data->d = d;
	AeTrainerResolve(r->opts, d, r->warm, &data->arch, r->what);
	r->fixed = AeTrainerFixedBytes(r->opts, &data->arch);
	r->per_row = AeTrainerRowBytes(d, 0);
	r->limit = AeTrainerMaxRows(r->fixed, r->per_row);
	if (r->opts->max_rows > 0)
		r->limit = Min(r->limit, r->opts->max_rows);

	cap = estimate > 0 ? (int64) Min(estimate * 1.1 + 16, 1e15) : 1024;
	if (r->opts->max_rows > 0)
		cap = Min(cap, r->opts->max_rows);
	cap = Min(cap, r->limit);
	if (cap < 1)
		AeTrainerCheckMemory(r->fixed, r->per_row, 1);	/* not even the model fits */
	AeTrainerCheckMemory(r->fixed, r->per_row, cap);
	data->X = MemoryContextAllocHuge(r->matrix_cxt, (Size) cap * d * sizeof(float));
	r->cap = cap;
	r->row = MemoryContextAlloc(r->matrix_cxt, sizeof(float) * d);
}

/* Room for one more row, within the budget. */
static void
GrowMatrix(Reader *r)
{
	AeData	   *data = r->data;
	int64		cap;

	if (data->n < r->cap)
		return;
	if (r->cap >= r->limit)
		AeTrainerCheckMemory(r->fixed, r->per_row, data->n + 1);	/* raises */
	cap = AeTrainerGrowCap(r->fixed, r->per_row, sizeof(float) * data->d,
						   r->cap, data->n + 1, r->limit);
	data->X = repalloc_huge(data->X, (Size) cap * data->d * sizeof(float));
	r->cap = cap;
}

/* Add the converted row, or let the reservoir decide where it goes. */
static void
KeepRow(Reader *r)
{
	AeData	   *data = r->data;
	int64		slot;
	int64		max_rows = r->opts->max_rows;

	if (max_rows > 0 && r->n_valid >= max_rows)
	{
		/* algorithm R: row i (0-based) replaces a random slot with probability max_rows / (i + 1) */
		uint64		j = ae_rng_below(&r->rng, (uint64) r->n_valid + 1);

		r->n_valid++;
		if (j >= (uint64) max_rows)
			return;
		slot = (int64) j;
	}
	else
	{
		r->n_valid++;
		GrowMatrix(r);
		slot = data->n++;
	}
	memcpy(data->X + (size_t) slot * data->d, r->row, sizeof(float) * data->d);
}

/* ---------------------------------------------------------------- reading */

static char *
BuildQuery(Reader *r)
{
	StringInfoData q;
	char	   *relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(r->relid)),
													 get_rel_name(r->relid));

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	if (r->input)
		appendStringInfo(&q, "CAST(%s AS pg_catalog.%s)", quote_identifier(r->input),
						 r->float4 ? "float4[]" : "float8[]");
	else
		for (int j = 0; j < r->ncols; j++)
			appendStringInfo(&q, "%sCAST(%s AS pg_catalog.float8)", j ? ", " : "",
							 quote_identifier(r->colnames[j]));
	appendStringInfo(&q, " FROM %s", relname);
	return q.data;
}

void
AeDataRead(Oid relid, const char *input, ArrayType *columns,
		   AeTrainOptions *opts, const AeBundle *warm, const char *what,
		   AeData *data)
{
	Reader		r;
	char	   *query;
	SPIPlanPtr	plan;
	Portal		portal;
	MemoryContext row_cxt;
	int			ret;

	memset(data, 0, sizeof(*data));
	memset(&r, 0, sizeof(r));
	r.relid = relid;
	r.input = input;
	r.opts = opts;
	r.warm = warm;
	r.what = what;
	r.data = data;
	r.matrix_cxt = CurrentMemoryContext;
	ae_rng_seed(&r.rng, (uint64) opts->seed ^ UINT64CONST(0x9E3779B97F4A7C15));

	CheckRelkind(relid);
	r.relname = get_rel_name(relid);
	if (input)
		r.float4 = CheckArrayColumn(relid, r.relname, input);
	else
	{
		Size		len = 0;
		char	   *p;

		ParseColumns(&r, columns);
		for (int j = 0; j < r.ncols; j++)
			len += strlen(r.colnames[j]) + 1;
		data->columns = p = palloc(len);
		for (int j = 0; j < r.ncols; j++)
		{
			strcpy(p, r.colnames[j]);
			p += strlen(r.colnames[j]) + 1;
		}
		data->n_columns = r.ncols;
		data->columns_len = len;
		StartMatrix(&r, r.ncols);
	}
	query = BuildQuery(&r);

	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "autoenc row conversion",
									ALLOCSET_DEFAULT_SIZES);

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query,
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	for (;;)
	{
		SPITupleTable *tuptable;

		SPI_cursor_fetch(portal, true, AE_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		tuptable = SPI_tuptable;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = tuptable->vals[i];
			AeRowCheck	check;
			MemoryContext old = MemoryContextSwitchTo(row_cxt);

			data->n_read++;
			if (input)
			{
				bool		isnull;
				Datum		value = SPI_getbinval(tuple, tuptable->tupdesc, 1, &isnull);
				int			width = 0;

				if (isnull)
					check.problem = AE_ROW_NULL;
				else
				{
					ArrayType  *arr = DatumGetArrayTypeP(value);

					if (data->d == 0)
					{
						/* the first valid row sets the width */
						AeConvertArray(arr, r.float4, 0, NULL, &width, &check, what);
						if (check.problem == AE_ROW_OK)
						{
							MemoryContextSwitchTo(old);
							StartMatrix(&r, width);
							MemoryContextSwitchTo(row_cxt);
						}
					}
					if (data->d > 0)
						AeConvertArray(arr, r.float4, data->d, r.row, &width, &check, what);
				}
			}
			else
				ConvertColumns(&r, tuple, tuptable->tupdesc, &check);
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_cxt);

			if (check.problem != AE_ROW_OK)
			{
				if (!opts->skip_invalid)
					AeReportRow(what, data->n_read, input, input ? NULL : r.colnames,
								&check, data->d);
				data->n_skipped++;
				continue;
			}
			KeepRow(&r);
		}
		SPI_freetuptable(tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	if ((ret = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(ret));
	MemoryContextDelete(row_cxt);

	if (data->n_read == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: relation \"%s\" has no rows", what, r.relname),
				 errdetail("Row-level security policies may hide rows from the current role.")));
	if (data->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: all " INT64_FORMAT " rows of relation \"%s\" are invalid",
						what, data->n_read, r.relname)));
	if (data->n_skipped > 0)
		ereport(NOTICE,
				(errmsg_plural("skipped %lld invalid row of %lld",
							   "skipped %lld invalid rows of %lld",
							   (unsigned long) data->n_skipped,
							   (long long) data->n_skipped, (long long) data->n_read)));
}
