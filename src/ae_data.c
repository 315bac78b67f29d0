/*
 * ae_data.c — the rows ae_train() learns from, read into memory (one pass
 * of ae_scan.c: a table scan or an SPI cursor).
 *
 * The relation comes in as a regclass and its columns are looked up in the
 * catalog before any SQL is built, so only quoted, existing identifiers
 * reach the query text.  Privileges and row-level security apply as for
 * any SELECT the caller writes (ae_scan.c says how).
 *
 * Rows are copied into one row-major float
 * matrix that grows geometrically, never beyond what autoenc.max_train_memory
 * allows: the budget is checked before every allocation.  With max_rows the
 * matrix holds a seeded uniform sample (reservoir sampling, algorithm R).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <sys/mman.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "ae_encoding.h"
#include "ae_rng.h"
#include "ae_training.h"

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
	bool		may_stream;		/* stop instead of raising 53200 when full */
	bool		give_up;		/* may_stream, and reltuples says they will not fit */
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

/* A number: the numeric column kind of ae_encoding.h (domains by their base type). */
static bool
NumericScalarType(Oid typid)
{
	AeColumnKind kind;

	return AeColumnKindOf(typid, &kind) && kind == AE_COL_NUMERIC;
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

/* True when the column is numeric; false when it needs an encoding (ae_encoding.h). */
static bool
CheckScalarColumn(Oid relid, const char *relname, const char *name)
{
	AttrNumber	attnum = LookupColumn(relid, relname, name);
	Oid			typid = get_atttype(relid, attnum);
	AeColumnKind kind;

	if (!AeColumnKindOf(typid, &kind))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" has type %s", name, relname,
						format_type_be(typid)),
				 errdetail("Input columns must be numeric (real, double precision, numeric, smallint, integer, bigint), "
						   "categorical (text, varchar, char, boolean, an enum) or date/time (date, timestamp, timestamptz), "
						   "or domains over them.")));
	return kind == AE_COL_NUMERIC;
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
		if (!CheckScalarColumn(r->relid, r->relname, r->colnames[i]))
			r->data->mixed = true;
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

bool
AeCheckValue(AeRowCheck *c, int index, double v)
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

		/* the common case, every value finite: one branch-free check and a copy */
		if (out && ae_all_finite(v, (size_t) n))
		{
			memcpy(out, v, sizeof(float) * n);
			return;
		}
		for (int i = 0; i < n; i++)
		{
			if (!AeCheckValue(c, i + 1, v[i]))
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
			if (!AeCheckValue(c, i + 1, v[i]))
				return;
			if (out)
				out[i] = (float) v[i];
		}
	}
}

void
AeReportRow(const char *what, int64 row_no, const char *input,
			char **colnames, const AeRowCheck *c, int d)
{
	AeReportRowHint(what, row_no, input, colnames, c, d,
					"Filter such rows out, or set the option skip_invalid to leave them out.");
}

void
AeReportRowHint(const char *what, int64 row_no, const char *input,
				char **colnames, const AeRowCheck *c, int d, const char *hint)
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
			 hint ? errhint("%s", hint) : 0));
}

/* ---------------------------------------------------------------- the matrix */

/*
 * Ask for transparent huge pages under the matrix (Linux, where
 * transparent_hugepage is "madvise", Debian's default): filling 50 MB of
 * fresh 4 kB pages costs 12 800 page faults, 7 % of a short training; 2 MB
 * pages cost 25.  Only advice: without it, or elsewhere, nothing changes.
 */
static void
AdviseHugePages(void *p, Size len)
{
#if defined(MADV_HUGEPAGE)
	const uintptr_t huge = 2 * 1024 * 1024;
	uintptr_t	start = ((uintptr_t) p + huge - 1) & ~(huge - 1);
	uintptr_t	end = ((uintptr_t) p + len) & ~(huge - 1);

	if (end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#else
	(void) p;
	(void) len;
#endif
}

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
	if (r->may_stream && estimate > (double) r->limit)
	{
		/* the statistics say the rows will not fit: stream from the start */
		r->give_up = true;
		cap = 1;
	}
	data->X = MemoryContextAllocHuge(r->matrix_cxt, (Size) cap * d * sizeof(float));
	AdviseHugePages(data->X, (Size) cap * d * sizeof(float));
	r->cap = cap;
	r->row = MemoryContextAlloc(r->matrix_cxt, sizeof(float) * d);
}

/* Room for one more row, within the budget; false when it does not fit and may_stream. */
static bool
GrowMatrix(Reader *r)
{
	AeData	   *data = r->data;
	int64		cap;

	if (data->n < r->cap)
		return true;
	if (r->may_stream &&
		(r->cap >= r->limit ||
		 AeTrainerMaxRows(r->fixed + (Size) r->cap * sizeof(float) * data->d, r->per_row) < data->n + 1))
		return false;
	if (r->cap >= r->limit)
		AeTrainerCheckMemory(r->fixed, r->per_row, data->n + 1);	/* raises */
	cap = AeTrainerGrowCap(r->fixed, r->per_row, sizeof(float) * data->d,
						   r->cap, data->n + 1, r->limit);
	data->X = repalloc_huge(data->X, (Size) cap * data->d * sizeof(float));
	AdviseHugePages(data->X, (Size) cap * data->d * sizeof(float));
	r->cap = cap;
	return true;
}

/*
 * Where the next row is converted to, before it is known to be valid: its
 * place at the end of the matrix (so a valid row is converted once, straight
 * into the matrix), or the scratch row while the reservoir of max_rows is
 * full and decides afterwards.  NULL: no room (with may_stream: stream).
 */
static float *
RowTarget(Reader *r)
{
	AeData	   *data = r->data;

	if (r->give_up)
		return NULL;
	if (r->opts->max_rows > 0 && r->n_valid >= r->opts->max_rows)
		return r->row;
	if (!GrowMatrix(r))
		return NULL;
	return data->X + (size_t) data->n * data->d;
}

/* The row converted into target is valid: keep it, or let the reservoir decide where it goes. */
static void
KeepRow(Reader *r, const float *target)
{
	AeData	   *data = r->data;

	if (target == r->row)
	{
		/* algorithm R: row i (0-based) replaces a random slot with probability max_rows / (i + 1) */
		uint64		j = ae_rng_below(&r->rng, (uint64) r->n_valid + 1);

		r->n_valid++;
		if (j < (uint64) r->opts->max_rows)
			memcpy(data->X + (size_t) j * data->d, r->row, sizeof(float) * data->d);
		return;
	}
	r->n_valid++;
	data->n++;
}

/* ---------------------------------------------------------------- reading */

/* The relation and column checks, shared by both ways of training. */
static void
Prepare(Reader *r, Oid relid, const char *input, ArrayType *columns, AeData *data)
{
	CheckRelkind(relid);
	r->relid = relid;
	r->input = input;
	r->relname = get_rel_name(relid);
	if (input)
		r->float4 = CheckArrayColumn(relid, r->relname, input);
	else
	{
		Size		len = 0;
		char	   *p;

		ParseColumns(r, columns);
		for (int j = 0; j < r->ncols; j++)
			len += strlen(r->colnames[j]) + 1;
		data->columns = p = palloc(len);
		for (int j = 0; j < r->ncols; j++)
		{
			strcpy(p, r->colnames[j]);
			p += strlen(r->colnames[j]) + 1;
		}
		data->n_columns = r->ncols;
		data->columns_len = len;
	}
	data->spec.relid = relid;
	data->spec.relname = r->relname;
	data->spec.input = input;
	data->spec.float4 = r->float4;
	data->spec.colnames = r->colnames;
	data->spec.ncols = r->ncols;
	data->spec.verbose = r->opts->verbose;
}

void
AeDataPrepare(Oid relid, const char *input, ArrayType *columns,
			  AeTrainOptions *opts, const char *what, AeData *data)
{
	Reader		r;

	memset(data, 0, sizeof(*data));
	memset(&r, 0, sizeof(r));
	r.opts = opts;
	r.what = what;
	r.data = data;
	Prepare(&r, relid, input, columns, data);
}

void
AeDataRead(Oid relid, const char *input, ArrayType *columns,
		   AeTrainOptions *opts, const AeBundle *warm, const char *what,
		   AeData *data)
{
	Reader		r;
	AeScan	   *scan;

	memset(data, 0, sizeof(*data));
	memset(&r, 0, sizeof(r));
	r.opts = opts;
	r.warm = warm;
	r.what = what;
	r.data = data;
	r.matrix_cxt = CurrentMemoryContext;
	r.may_stream = opts->data == AE_DATA_AUTO && opts->max_rows == 0;
	ae_rng_seed(&r.rng, (uint64) opts->seed ^ UINT64CONST(0x9E3779B97F4A7C15));

	Prepare(&r, relid, input, columns, data);
	if (data->mixed)
		return;					/* not only numbers: ae_mixed.c reads them */
	if (!input)
		StartMatrix(&r, r.ncols);

	scan = AeScanBegin(&data->spec, true);
	while (AeScanNext(scan))
	{
		AeRowCheck	check;
		int			width = 0;
		float	   *target = NULL;

		data->n_read++;
		if (data->d == 0)
		{
			/* the first valid row sets the width */
			AeScanConvert(scan, 0, NULL, &width, &check, what);
			if (check.problem == AE_ROW_OK)
				StartMatrix(&r, width);
		}
		if (data->d > 0)
		{
			target = RowTarget(&r);
			if (target == NULL)
			{
				/* too many rows for memory: the caller streams instead */
				data->too_big = true;
				break;
			}
			AeScanConvert(scan, data->d, target, &width, &check, what);
		}

		if (check.problem == AE_ROW_NULL && !input && opts->nulls == AE_NULLS_LEARN)
		{
			/* a NULL to learn: the columns need an encoding after all */
			data->mixed = true;
			break;
		}
		if (check.problem != AE_ROW_OK)
		{
			if (!opts->skip_invalid)
				AeReportRow(what, data->n_read, input, input ? NULL : r.colnames,
							&check, data->d);
			data->n_skipped++;
			continue;
		}
		KeepRow(&r, target);
	}
	AeScanEnd(scan);
	if (data->too_big || data->mixed)
	{
		pfree(data->X);
		data->X = NULL;
		return;
	}

	AeReportRowCounts(what, r.relname, data->n_read, data->n, data->n_skipped);
}

void
AeReportRowCounts(const char *what, const char *relname, int64 n_read, int64 n_valid,
				  int64 n_skipped)
{
	if (n_read == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: relation \"%s\" has no rows", what, relname),
				 errdetail("Row-level security policies may hide rows from the current role.")));
	if (n_valid == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: all " INT64_FORMAT " rows of relation \"%s\" are invalid",
						what, n_read, relname)));
	if (n_skipped > 0)
		ereport(NOTICE,
				(errmsg_plural("skipped %lld invalid row of %lld",
							   "skipped %lld invalid rows of %lld",
							   (unsigned long) n_skipped,
							   (long long) n_skipped, (long long) n_read)));
}
