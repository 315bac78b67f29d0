/*
 * ae_scorer.c — scoring one row with a cached model.
 *
 * Everything here runs once per scored row except ae_scorer_bind's slow path
 * (once per statement and call site).  The row path reads the array in
 * place, normalises into a buffer allocated once, runs the network through
 * the one-row kernel (src/core/ae_infer.c) and reduces in double precision.
 *
 * Input checks, in the order applied to each element (1-based position in
 * the array, or the column name for a row):
 *   NULL                     22004 null_value_not_allowed  (or imputed)
 *   NaN                      22000 data_exception          (or imputed)
 *   ±Infinity                22003 numeric_value_out_of_range
 *   beyond real's range      22003 (double precision input)
 *   non-finite once normalised  22003
 * and for the array: not one-dimensional or not the model's width → 2202E
 * array_subscript_error.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "ae_catalog.h"
#include "ae_infer.h"
#include "ae_scorer.h"

int			ae_scoring_kernel = AE_KERNEL_FUSED;

const struct config_enum_entry ae_scoring_kernel_options[] = {
	{"fused", AE_KERNEL_FUSED, false},
	{"blas", AE_KERNEL_BLAS, false},
	{NULL, 0, false}
};

/* ---------------------------------------------------------------- binding */

static void
ReleaseBindings(AeScorer *s)
{
	for (int i = 0; i < s->n_bindings; i++)
		ae_cache_unpin(s->bindings[i].entry);
	s->n_bindings = 0;
	s->current = NULL;
	s->entry = NULL;
	s->name = NULL;
}

static void
ScorerReset(void *arg)
{
	/* runs while the context goes away, possibly during abort: no errors */
	ReleaseBindings((AeScorer *) arg);
}

AeScorer *
ae_scorer_create(MemoryContext mcxt)
{
	AeScorer   *s = MemoryContextAllocZero(mcxt, sizeof(AeScorer));

	s->mcxt = mcxt;
	s->reset_cb.func = ScorerReset;
	s->reset_cb.arg = s;
	MemoryContextRegisterResetCallback(mcxt, &s->reset_cb);
	return s;
}

AeScorer *
ae_scorer_get(FmgrInfo *flinfo)
{
	if (flinfo->fn_extra == NULL)
		flinfo->fn_extra = ae_scorer_create(flinfo->fn_mcxt);
	return (AeScorer *) flinfo->fn_extra;
}

static void *
Grow(AeScorer *s, void *old, size_t size)
{
	if (old)
		pfree(old);
	return MemoryContextAlloc(s->mcxt, Max(size, 1));
}

/* Set the buffers up for the current model: grown when it is wider. */
static void
SizeBuffers(AeScorer *s)
{
	AeCachedModel *m = s->entry;
	size_t		scratch = Max(ae_infer_scratch_size(&m->model),
							  ae_forward_scratch_size(&m->model, 1));

	if (m->d > s->cap_d)
	{
		s->xn = Grow(s, s->xn, sizeof(float) * m->d);
		s->present = Grow(s, s->present, sizeof(bool) * m->d);
		s->out = Grow(s, s->out, sizeof(float) * m->d);
		s->sqerr = Grow(s, s->sqerr, sizeof(float) * m->d);
		s->cap_d = m->d;
	}
	if (m->code_width > s->cap_code)
	{
		s->code = Grow(s, s->code, sizeof(float) * m->code_width);
		s->cap_code = m->code_width;
	}
	if (scratch > s->cap_scratch)
	{
		s->scratch = Grow(s, s->scratch, sizeof(float) * scratch);
		s->cap_scratch = scratch;
	}
	s->d = m->d;
	s->code_width = m->code_width;
	s->serial = m->serial;
}

/* Check and bind a model this call site has not bound (since the last invalidation). */
static AeBinding *
BindNew(AeScorer *s, const char *name, int namelen)
{
	uint64		generation;
	AeCachedModel *entry;
	AeBinding  *b;

	/*
	 * Catch up with the invalidations of transactions that committed since
	 * this backend last looked (it may hold every lock it needs already,
	 * and then nothing else would), then the catalog's permission check for
	 * the current user (remembered by the cache while nothing that could
	 * change it happened), which also raises 42704 for an unknown name.
	 */
	AcceptInvalidationMessages();
	entry = ae_cache_lookup_checked(name, namelen, &generation);

	/* what was bound before an invalidation that arrived meanwhile is stale */
	if (s->n_bindings > 0 && generation != s->generation)
		ReleaseBindings(s);
	ae_cache_pin(entry);
	if (s->n_bindings < AE_SCORER_BINDINGS)
		b = &s->bindings[s->n_bindings++];
	else
	{
		/* replace the least recently used binding */
		b = &s->bindings[0];
		for (int i = 1; i < s->n_bindings; i++)
			if (s->bindings[i].last_used < b->last_used)
				b = &s->bindings[i];
		ae_cache_unpin(b->entry);
	}
	b->entry = entry;
	b->search_path = ae_search_path_hash(name, namelen);
	b->namelen = namelen;
	memset(b->name, 0, sizeof(b->name));
	memcpy(b->name, name, namelen);
	s->generation = generation;
	s->userid = GetUserId();
	return b;
}

void
ae_scorer_bind(AeScorer *s, const char *name, int namelen)
{
	AeBinding  *b = NULL;

	/* the hot path: same model, nothing invalidated, same user */
	if (likely(s->current != NULL &&
			   s->generation == ae_cache_generation &&
			   s->current->namelen == namelen &&
			   s->userid == GetUserId() &&
			   memcmp(s->current->name, name, namelen) == 0 &&
			   (s->current->search_path == 0 ||
				s->current->search_path == ae_search_path_hash(name, namelen))))
		return;

	/* after an invalidation, or as another user, everything is checked again */
	if (s->n_bindings > 0 &&
		(s->generation != ae_cache_generation || s->userid != GetUserId()))
		ReleaseBindings(s);

	/* another model bound earlier in this statement */
	for (int i = 0; i < s->n_bindings; i++)
		if (s->bindings[i].namelen == namelen &&
			memcmp(s->bindings[i].name, name, namelen) == 0 &&
			(s->bindings[i].search_path == 0 ||
			 s->bindings[i].search_path == ae_search_path_hash(name, namelen)))
		{
			b = &s->bindings[i];
			break;
		}
	if (b == NULL)
		b = BindNew(s, name, namelen);

	b->last_used = ++s->clock;
	s->current = b;
	s->entry = b->entry;
	s->name = b->name;
	if (s->serial != b->entry->serial)
		SizeBuffers(s);
}

/* ---------------------------------------------------------------- input */

const char *
ae_feature_name(const AeScorer *s, int j, char *buf, size_t bufsize)
{
	if (s->entry->n_columns > 0)
		return s->entry->columns[j];
	snprintf(buf, bufsize, "%d", j + 1);
	return buf;
}

/* "input element 3" or "input column \"amount\"" */
static const char *
InputLabel(const AeScorer *s, int j, bool row, char *buf, size_t bufsize)
{
	if (row)
		snprintf(buf, bufsize, "input column \"%s\"", s->entry->columns[j]);
	else
		snprintf(buf, bufsize, "input element %d", j + 1);
	return buf;
}

static void
ReportMissing(const AeScorer *s, int j, bool row, bool isnull)
{
	char		buf[NAMEDATALEN + 32];

	ereport(ERROR,
			(errcode(isnull ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_DATA_EXCEPTION),
			 errmsg("%s is %s", InputLabel(s, j, row, buf, sizeof(buf)), isnull ? "null" : "NaN"),
			 errdetail("Model \"%s\" needs a value for every feature.", s->name),
			 errhint("Pass missing => 'impute' to replace missing values by the training mean.")));
}

/*
 * One element, value v (not NULL), at feature j: checks it and stores the
 * normalised value.  Returns false when it is NaN and missing values are
 * imputed (the caller treats it as missing).
 */
static inline bool
LoadValue(AeScorer *s, int j, double v, bool row, AeMissing missing)
{
	const AeCachedModel *m = s->entry;
	char		buf[NAMEDATALEN + 32];
	float		z;

	if (isnan(v))
	{
		if (missing == AE_MISSING_IMPUTE)
			return false;
		ReportMissing(s, j, row, false);
	}
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is infinite", InputLabel(s, j, row, buf, sizeof(buf)))));
	if (fabs(v) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range for type real", InputLabel(s, j, row, buf, sizeof(buf))),
				 errdetail("The value is %g; models compute in single precision.", v)));
	z = ((float) v - m->norm_offset[j]) / m->norm_scale[j];
	if (!isfinite(z))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range once normalised", InputLabel(s, j, row, buf, sizeof(buf))),
				 /* not the model's normalisation: a grantee may score, not export */
				 errdetail("The value %g, normalised with the model's statistics, overflows single precision.",
						   v)));
	s->xn[j] = z;
	s->present[j] = true;
	return true;
}

/* Feature j is missing: impute the training mean, or fail. */
static inline void
LoadMissing(AeScorer *s, int j, bool row, bool isnull, AeMissing missing)
{
	const AeCachedModel *m = s->entry;

	if (missing != AE_MISSING_IMPUTE)
		ReportMissing(s, j, row, isnull);
	s->xn[j] = (m->feature_mean[j] - m->norm_offset[j]) / m->norm_scale[j];
	s->present[j] = false;
}

static void
CountPresent(AeScorer *s)
{
	int			n = 0;

	for (int j = 0; j < s->d; j++)
		n += s->present[j];
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("every input value is missing"),
				 errdetail("Model \"%s\" can impute missing values, but at least one must be present.",
						   s->name)));
	s->n_present = n;
}

/*
 * The array datum as an ArrayType with a 4-byte header, detoasting only
 * when it is toasted: a short-header array (under 127 bytes, as stored on
 * disk) is copied into the scorer's staging buffer instead of a new palloc.
 * A TOAST pointer or an expanded array (a PL/pgSQL variable) also has a
 * one-byte header but no inline data: DatumGetArrayTypeP fetches or
 * flattens it.
 */
static ArrayType *
ArrayInPlace(AeScorer *s, Datum datum)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(datum);

	if (VARATT_IS_SHORT(v) && !VARATT_IS_EXTERNAL(v))
	{
		Size		len = VARSIZE_SHORT(v) - VARHDRSZ_SHORT;

		if (s->stage_size < len + VARHDRSZ)
		{
			if (s->stage)
				pfree(s->stage);
			s->stage_size = Max(len + VARHDRSZ, 256);
			s->stage = MemoryContextAlloc(s->mcxt, s->stage_size);
		}
		SET_VARSIZE(s->stage, len + VARHDRSZ);
		memcpy(VARDATA(s->stage), VARDATA_SHORT(v), len);
		return (ArrayType *) s->stage;
	}
	return DatumGetArrayTypeP(datum);
}

/* Check shape and element type; returns the element type. */
static Oid
CheckArray(const AeScorer *s, ArrayType *arr, int expected, const char *what)
{
	int			ndim = ARR_NDIM(arr);
	int			n = ndim == 0 ? 0 : ARR_DIMS(arr)[0];
	Oid			elemtype = ARR_ELEMTYPE(arr);

	if (ndim > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s array must be one-dimensional", what),
				 errdetail("The array has %d dimensions.", ndim)));
	if (n != expected)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("model \"%s\" expects %d %s values, not %d", s->name, expected, what, n)));
	if (elemtype != FLOAT4OID && elemtype != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s array must be real[] or double precision[], not %s[]",
						what, format_type_be(elemtype))));
	return elemtype;
}

void
ae_scorer_load_array(AeScorer *s, Datum datum, AeMissing missing)
{
	ArrayType  *arr = ArrayInPlace(s, datum);
	int			d = s->d;
	Oid			elemtype = CheckArray(s, arr, d, "input");
	const bits8 *nulls = ARR_NULLBITMAP(arr);
	const char *p = ARR_DATA_PTR(arr);

	if (elemtype == FLOAT4OID && nulls == NULL &&
		likely(ae_infer_normalize((const float *) p, s->entry->norm_offset,
								  s->entry->norm_scale, s->xn, d)))
	{
		/* the common case: read in place, normalised in one vectorised pass */
		memset(s->present, true, sizeof(bool) * d);
		s->n_present = d;
		return;
	}

	/* element by element, with every check and missing values */
	for (int j = 0, k = 0; j < d; j++)
	{
		double		v;

		if (nulls && !(nulls[j / 8] & (1 << (j % 8))))
		{
			LoadMissing(s, j, false, true, missing);
			continue;
		}
		if (elemtype == FLOAT4OID)
			v = ((const float *) p)[k++];
		else
			v = ((const double *) p)[k++];
		if (!LoadValue(s, j, v, false, missing))
			LoadMissing(s, j, false, false, missing);
	}
	CountPresent(s);
}

static bool
NumericType(Oid type)
{
	switch (type)
	{
		case FLOAT4OID:
		case FLOAT8OID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return true;
		default:
			return false;
	}
}

/* Find the model's columns in the row type desc. */
static void
BuildRowMap(AeScorer *s, TupleDesc desc)
{
	const AeCachedModel *m = s->entry;
	MemoryContext old = MemoryContextSwitchTo(s->mcxt);

	if (s->row_desc)
	{
		FreeTupleDesc(s->row_desc);
		pfree(s->row_attno);
		pfree(s->row_type);
		pfree(s->row_values);
		pfree(s->row_nulls);
	}
	s->row_typid = InvalidOid;	/* until complete */
	s->row_desc = CreateTupleDescCopy(desc);
	desc = s->row_desc;
	s->row_attno = palloc(sizeof(AttrNumber) * m->n_columns);
	s->row_type = palloc(sizeof(Oid) * m->n_columns);
	s->row_values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	s->row_nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	MemoryContextSwitchTo(old);

	for (int j = 0; j < m->n_columns; j++)
	{
		int			i;

		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped && strcmp(NameStr(att->attname), m->columns[j]) == 0)
				break;
		}
		if (i == desc->natts)
		{
			StringInfoData cols;

			initStringInfo(&cols);
			for (int c = 0; c < m->n_columns; c++)
				appendStringInfo(&cols, "%s%s", c ? ", " : "", quote_identifier(m->columns[c]));
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("input row has no column \"%s\"", m->columns[j]),
					 errdetail("Model \"%s\" was trained on the columns %s.", s->name, cols.data)));
		}
		s->row_attno[j] = i + 1;
		s->row_type[j] = getBaseType(TupleDescAttr(desc, i)->atttypid);
		if (!NumericType(s->row_type[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("input column \"%s\" has type %s, not a number", m->columns[j],
							format_type_be(TupleDescAttr(desc, i)->atttypid)),
					 errhint("Model inputs may be real, double precision, smallint, integer, bigint or numeric.")));
	}
	s->row_typid = desc->tdtypeid;
	s->row_typmod = desc->tdtypmod;
	s->row_serial = s->serial;
	s->row_generation = ae_relcache_generation;
}

static inline bool
RowMapValid(const AeScorer *s, Oid typid, int32 typmod)
{
	return typid == s->row_typid && typmod == s->row_typmod &&
		s->row_serial == s->serial && s->row_generation == ae_relcache_generation;
}

static void
CheckNamedColumns(const AeScorer *s)
{
	if (s->entry->n_columns == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("model \"%s\" was trained on arrays, not on named columns", s->name),
				 errhint("Pass the features as a real[] or double precision[] array.")));
	if (s->entry->n_columns != s->d)
		elog(ERROR, "model \"%s\" has %d columns for %d inputs. Please report a bug.",
			 s->name, s->entry->n_columns, s->d);
}

static double
DatumToDouble(Datum value, Oid type)
{
	switch (type)
	{
		case FLOAT4OID:
			return DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
		default:
			elog(ERROR, "unexpected input type %u. Please report a bug.", type);
			return 0.0;
	}
}

/* The deformed row in s->row_values / row_nulls → s->xn. */
static void
LoadDeformed(AeScorer *s, AeMissing missing)
{
	for (int j = 0; j < s->d; j++)
	{
		int			a = s->row_attno[j] - 1;

		if (s->row_nulls[a])
			LoadMissing(s, j, true, true, missing);
		else if (!LoadValue(s, j, DatumToDouble(s->row_values[a], s->row_type[j]), true, missing))
			LoadMissing(s, j, true, false, missing);
	}
	CountPresent(s);
}

void
ae_scorer_load_row(AeScorer *s, HeapTupleHeader row, AeMissing missing)
{
	Oid			typid = HeapTupleHeaderGetTypeId(row);
	int32		typmod = HeapTupleHeaderGetTypMod(row);
	HeapTupleData tuple;

	CheckNamedColumns(s);
	if (!RowMapValid(s, typid, typmod))
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(typid, typmod);

		/* on error, the resource owner releases desc */
		BuildRowMap(s, desc);
		ReleaseTupleDesc(desc);
	}

	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	heap_deform_tuple(&tuple, s->row_desc, s->row_values, s->row_nulls);
	LoadDeformed(s, missing);
}

void
ae_scorer_load_tuple(AeScorer *s, HeapTuple tuple, TupleDesc desc, AeMissing missing)
{
	CheckNamedColumns(s);
	if (!RowMapValid(s, desc->tdtypeid, desc->tdtypmod))
		BuildRowMap(s, desc);
	heap_deform_tuple(tuple, s->row_desc, s->row_values, s->row_nulls);
	LoadDeformed(s, missing);
}

void
ae_scorer_load_code(AeScorer *s, Datum datum)
{
	ArrayType  *arr = ArrayInPlace(s, datum);
	int			n = s->code_width;
	Oid			elemtype = CheckArray(s, arr, n, "code");
	const bits8 *nulls = ARR_NULLBITMAP(arr);
	const char *p = ARR_DATA_PTR(arr);

	for (int j = 0; j < n; j++)
	{
		double		v;

		if (nulls && !(nulls[j / 8] & (1 << (j % 8))))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("code element %d is null", j + 1)));
		v = elemtype == FLOAT4OID ? ((const float *) p)[j] : ((const double *) p)[j];
		if (isnan(v))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("code element %d is NaN", j + 1)));
		if (isinf(v) || fabs(v) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("code element %d is %s", j + 1,
							isinf(v) ? "infinite" : "out of range for type real")));
		s->code[j] = (float) v;
	}
}

/* ---------------------------------------------------------------- network */

void
ae_scorer_run(AeScorer *s, int from, int to, const float *in, float *out)
{
	const AeCachedModel *m = s->entry;

	if (ae_scoring_kernel == AE_KERNEL_FUSED)
		ae_infer_row(&m->model, m->packed, from, to, in, out, s->scratch);
	else
		ae_forward_range(&m->model, from, to, in, 1, out, s->scratch);
}

static void
ReportNonFinite(const AeScorer *s)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("model \"%s\" produced a non-finite value for this input", s->name),
			 errdetail("The input is too far outside the range the model was trained on.")));
}

static void
CheckFinite(const AeScorer *s, const float *v, int n)
{
	if (unlikely(!ae_all_finite(v, (size_t) n)))
		ReportNonFinite(s);
}

void
ae_scorer_check_output(AeScorer *s)
{
	CheckFinite(s, s->out, s->d);
}

void
ae_scorer_encode(AeScorer *s)
{
	int			code_layer = s->entry->model.arch.code_layer;

	ae_scorer_run(s, 0, code_layer + 1, s->xn, s->code);
	CheckFinite(s, s->code, s->code_width);
}

void
ae_scorer_reconstruct(AeScorer *s)
{
	ae_scorer_run(s, 0, s->entry->model.n_layers, s->xn, s->out);
}

void
ae_scorer_decode(AeScorer *s)
{
	const AeModel *model = &s->entry->model;

	ae_scorer_run(s, model->arch.code_layer + 1, model->n_layers, s->code, s->out);
	CheckFinite(s, s->out, s->d);
}

void
ae_scorer_denormalise(AeScorer *s)
{
	const AeCachedModel *m = s->entry;

	CheckFinite(s, s->out, s->d);
	for (int j = 0; j < s->d; j++)
	{
		float		v = s->out[j] * m->norm_scale[j] + m->norm_offset[j];

		if (!isfinite(v))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("output %d of model \"%s\" is out of range for type real in original units",
							j + 1, s->name)));
		s->out[j] = v;
	}
}

/* ---------------------------------------------------------------- errors */

/* log clamped at -100, as torch.nn.BCELoss does */
static inline double
ClampedLog(double v)
{
	return v > 0.0 ? fmax(log(v), -100.0) : -100.0;
}

double
ae_scorer_error(AeScorer *s, AeMetric metric)
{
	const float *x = s->xn;
	const float *xh = s->out;
	const bool *present = s->present;
	int			d = s->d;
	bool		all = s->n_present == d;
	double		acc = 0.0;

	if ((metric == AE_METRIC_MSE || metric == AE_METRIC_RMSE) && all)
	{
		/* the hot path: one vectorised pass, which also sees non-finite outputs */
		acc = ae_infer_sq_diff_sum(xh, x, d);
		if (unlikely(!isfinite(acc)))
			ReportNonFinite(s);
		acc /= d;
		return metric == AE_METRIC_RMSE ? sqrt(acc) : acc;
	}

	CheckFinite(s, xh, d);
	switch (metric)
	{
		case AE_METRIC_MSE:
		case AE_METRIC_RMSE:
			for (int j = 0; j < d; j++)
				if (present[j])
				{
					double		e = xh[j] - x[j];

					acc += e * e;
				}
			acc /= s->n_present;
			return metric == AE_METRIC_RMSE ? sqrt(acc) : acc;
		case AE_METRIC_MAE:
			for (int j = 0; j < d; j++)
				if (present[j])
					acc += fabs((double) xh[j] - x[j]);
			return acc / s->n_present;
		case AE_METRIC_MAX:
			for (int j = 0; j < d; j++)
				if (present[j])
					acc = fmax(acc, fabs((double) xh[j] - x[j]));
			return acc;
		case AE_METRIC_BCE:
			if (!s->entry->sigmoid_output)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("metric \"bce\" needs a model with a sigmoid output layer"),
						 errdetail("Model \"%s\" has a linear output layer.", s->name),
						 errhint("Use mse, mae, rmse or max.")));
			for (int j = 0; j < d; j++)
				if (present[j])
					acc -= x[j] * ClampedLog(xh[j]) + (1.0 - x[j]) * ClampedLog(1.0 - xh[j]);
			return acc / s->n_present;
	}
	elog(ERROR, "unexpected metric %d. Please report a bug.", (int) metric);
	return 0.0;
}

void
ae_scorer_feature_errors(AeScorer *s)
{
	CheckFinite(s, s->out, s->d);
	for (int j = 0; j < s->d; j++)
	{
		float		e = s->out[j] - s->xn[j];

		s->sqerr[j] = s->present[j] ? e * e : 0.0f;
	}
}

static void
RequireQuantiles(const AeScorer *s)
{
	if (isnan(s->entry->quantiles[0]))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no training-error quantiles", s->name),
				 errdetail("Anomaly scores and contamination need the distribution of the training errors."),
				 errhint("Train the model with ae_train or ae_fit, or import it with \"quantiles\".")));
}

double
ae_scorer_anomaly_score(const AeScorer *s, double mse)
{
	const double *q = s->entry->quantiles;
	int			lo = 0,
				hi = AE_BUNDLE_N_QUANTILES - 1;

	RequireQuantiles(s);
	if (mse < q[0])
		return 0.0;
	if (mse >= q[hi])
		return 1.0;
	/* q[lo] <= mse < q[hi]: find the largest lo with q[lo] <= mse */
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) / 2;

		if (q[mid] <= mse)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + (mse - q[lo]) / (q[hi] - q[lo])) / (AE_BUNDLE_N_QUANTILES - 1);
}

double
ae_scorer_quantile(const AeScorer *s, double p)
{
	const double *q = s->entry->quantiles;
	double		pos = p * (AE_BUNDLE_N_QUANTILES - 1);
	int			i = (int) floor(pos);

	RequireQuantiles(s);
	if (i >= AE_BUNDLE_N_QUANTILES - 1)
		return q[AE_BUNDLE_N_QUANTILES - 1];
	if (i < 0)
		return q[0];
	return q[i] + (pos - i) * (q[i + 1] - q[i]);
}

double
ae_scorer_threshold(const AeScorer *s)
{
	if (isnan(s->entry->threshold))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no anomaly threshold", s->name),
				 errhint("Pass a contamination, or train the model with ae_train or ae_fit, "
						 "or import it with \"threshold\".")));
	return s->entry->threshold;
}

/* ---------------------------------------------------------------- arguments */

static inline bool
TextIs(const text *t, const char *s)
{
	size_t		len = strlen(s);

	return VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

AeMissing
ae_parse_missing(const text *value)
{
	if (TextIs(value, "error"))
		return AE_MISSING_ERROR;
	if (TextIs(value, "impute"))
		return AE_MISSING_IMPUTE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for missing: \"%s\"", text_to_cstring(value)),
			 errhint("Valid values are \"error\" and \"impute\".")));
	return AE_MISSING_ERROR;
}

AeMetric
ae_parse_metric(const text *value)
{
	if (TextIs(value, "mse"))
		return AE_METRIC_MSE;
	if (TextIs(value, "mae"))
		return AE_METRIC_MAE;
	if (TextIs(value, "rmse"))
		return AE_METRIC_RMSE;
	if (TextIs(value, "max"))
		return AE_METRIC_MAX;
	if (TextIs(value, "bce"))
		return AE_METRIC_BCE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown error metric \"%s\"", text_to_cstring(value)),
			 errhint("Valid metrics are mse, mae, rmse, max and bce.")));
	return AE_METRIC_MSE;
}

/* ---------------------------------------------------------------- results */

ArrayType *
ae_float4_array(const float *values, int n, const bool *nulls)
{
	if (nulls == NULL)
	{
		Size		nbytes = ARR_OVERHEAD_NONULLS(1) + sizeof(float4) * n;
		ArrayType  *a = (ArrayType *) palloc(nbytes);

		SET_VARSIZE(a, nbytes);
		a->ndim = 1;
		a->dataoffset = 0;
		a->elemtype = FLOAT4OID;
		ARR_DIMS(a)[0] = n;
		ARR_LBOUND(a)[0] = 1;
		memcpy(ARR_DATA_PTR(a), values, sizeof(float4) * n);
		return a;
	}
	else
	{
		Datum	   *elems = palloc(sizeof(Datum) * n);
		int			dims[1] = {n};
		int			lbs[1] = {1};

		for (int j = 0; j < n; j++)
			elems[j] = Float4GetDatum(values[j]);
		return construct_md_array(elems, (bool *) nulls, 1, dims, lbs,
								  FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	}
}
