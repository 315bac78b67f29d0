/*
 * ae_score.c — the scoring functions callable from SQL.
 *
 * Every function takes the model's name first and the input second: a
 * real[] or double precision[] array (the "array" entry points, which look
 * at the element type), or a row value for models trained on named columns
 * (the "_row" entry points).  The work is in ae_scorer.c (binding),
 * ae_score_input.c (loading a row) and ae_score_output.c (the network and
 * its metrics); this file unpacks arguments and builds results.  Errors are
 * computed in normalised space (see doc/how-it-works.md, "Scoring").
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "ae_scorer.h"

/* Bind the model (argument 0) and load the input (argument 1). */
static AeScorer *
LoadInput(FunctionCallInfo fcinfo, bool row, int missing_argno)
{
	AeScorer   *s;
	AeMissing	missing;

	if (fcinfo->flinfo == NULL)
		elog(ERROR, "autoenc scoring functions must be called through the function manager");
	s = ae_scorer_get(fcinfo->flinfo);
	ae_scorer_bind_text(s, PG_GETARG_TEXT_PP(0));
	missing = missing_argno < 0 ? AE_MISSING_ERROR : ae_parse_missing(PG_GETARG_TEXT_PP(missing_argno));
	if (row)
		ae_scorer_load_row(s, PG_GETARG_HEAPTUPLEHEADER(1), missing);
	else
		ae_scorer_load_array(s, PG_GETARG_DATUM(1), missing);
	return s;
}

/* Two SQL-callable entry points, array and row, for one implementation. */
#define AE_SCORE_ENTRY_POINTS(name, impl) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) { return impl(fcinfo, false); } \
	PG_FUNCTION_INFO_V1(name##_row); \
	Datum name##_row(PG_FUNCTION_ARGS) { return impl(fcinfo, true); }

/* ---------------------------------------------------------------- encode / decode / reconstruct */

/* ae_encode(model, x, missing) → real[]: the code layer's activations */
static Datum
EncodeImpl(FunctionCallInfo fcinfo, bool row)
{
	AeScorer   *s = LoadInput(fcinfo, row, 2);

	ae_scorer_encode(s);
	PG_RETURN_ARRAYTYPE_P(ae_float4_array(s->code, s->code_width, NULL));
}

AE_SCORE_ENTRY_POINTS(ae_encode, EncodeImpl)

/* ae_decode(model, code) → real[]: the decoder's output in original units */
PG_FUNCTION_INFO_V1(ae_decode);
Datum
ae_decode(PG_FUNCTION_ARGS)
{
	AeScorer   *s;

	if (fcinfo->flinfo == NULL)
		elog(ERROR, "autoenc scoring functions must be called through the function manager");
	s = ae_scorer_get(fcinfo->flinfo);
	ae_scorer_bind_text(s, PG_GETARG_TEXT_PP(0));
	ae_scorer_load_code(s, PG_GETARG_DATUM(1));
	ae_scorer_decode(s);
	ae_scorer_denormalise(s);
	PG_RETURN_ARRAYTYPE_P(ae_float4_array(s->out, s->d, NULL));
}

/* ae_reconstruct(model, x, missing) → real[]: the reconstruction in original units */
static Datum
ReconstructImpl(FunctionCallInfo fcinfo, bool row)
{
	AeScorer   *s = LoadInput(fcinfo, row, 2);

	ae_scorer_reconstruct(s);
	ae_scorer_denormalise(s);
	PG_RETURN_ARRAYTYPE_P(ae_float4_array(s->out, s->d, NULL));
}

AE_SCORE_ENTRY_POINTS(ae_reconstruct, ReconstructImpl)

/*
 * ae_reconstruct_row(model, x anyelement, missing) → x's row type: the row
 * with each of the model's columns replaced by its reconstruction in the
 * column's own type (ae_scorer_column_value), the other columns as they are.
 */
PG_FUNCTION_INFO_V1(ae_reconstruct_into_row);
Datum
ae_reconstruct_into_row(PG_FUNCTION_ARGS)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	AeScorer   *s;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;

	if (!OidIsValid(argtype) || !type_is_rowtype(argtype))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("ae_reconstruct_row needs a row, not %s", format_type_be(argtype)),
				 errhint("Pass a table's row (t), ROW(...) AS a composite type, or a composite value.")));
	/* a model trained on arrays is refused when the row is loaded */
	s = LoadInput(fcinfo, true, 2);
	ae_scorer_reconstruct(s);
	ae_scorer_check_output(s);
	desc = s->row_desc;
	values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	memcpy(values, s->row_values, sizeof(Datum) * desc->natts);
	memcpy(nulls, s->row_nulls, sizeof(bool) * desc->natts);
	for (int c = 0; c < s->entry->n_columns; c++)
	{
		int			a = s->row_attno[c] - 1;
		Form_pg_attribute att = TupleDescAttr(desc, a);

		values[a] = ae_scorer_column_value(s, c, att->atttypid, att->atttypmod, &nulls[a]);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* ---------------------------------------------------------------- errors */

/* ae_error(model, x, metric, missing) → double precision */
static Datum
ErrorImpl(FunctionCallInfo fcinfo, bool row)
{
	AeScorer   *s = LoadInput(fcinfo, row, 3);
	AeMetric	metric = ae_parse_metric(PG_GETARG_TEXT_PP(2));

	ae_scorer_reconstruct(s);
	PG_RETURN_FLOAT8(ae_scorer_error(s, metric));
}

AE_SCORE_ENTRY_POINTS(ae_error, ErrorImpl)

/* ae_feature_errors(model, x, missing) → real[]: squared error per feature, NULL where missing */
static Datum
FeatureErrorsImpl(FunctionCallInfo fcinfo, bool row)
{
	AeScorer   *s = LoadInput(fcinfo, row, 2);
	bool	   *nulls = NULL;

	ae_scorer_reconstruct(s);
	ae_scorer_feature_errors(s);
	if (s->n_features == s->d && s->n_present < s->d)
	{
		nulls = palloc(sizeof(bool) * s->d);
		for (int j = 0; j < s->d; j++)
			nulls[j] = !s->present[j];
	}
	PG_RETURN_ARRAYTYPE_P(ae_float4_array(s->sqerr, s->n_features, nulls));
}

AE_SCORE_ENTRY_POINTS(ae_feature_errors, FeatureErrorsImpl)

typedef struct RankedFeature
{
	int			j;
	float		err;
} RankedFeature;

/* larger error first, then lower position */
static int
CompareRanked(const void *a, const void *b)
{
	const RankedFeature *x = a;
	const RankedFeature *y = b;

	if (x->err != y->err)
		return x->err > y->err ? -1 : 1;
	return x->j - y->j;
}

/* ae_explain(model, x, k, missing) → SETOF (feature, error, share) */
static Datum
ExplainImpl(FunctionCallInfo fcinfo, bool row)
{
	AeScorer   *s = LoadInput(fcinfo, row, 3);
	int			k = PG_GETARG_INT32(2);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RankedFeature *ranked;
	int			n = 0;
	double		total = 0.0;

	if (k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must not be negative"),
				 errdetail("k is the number of features to list; it is %d.", k)));

	ae_scorer_reconstruct(s);
	ae_scorer_feature_errors(s);
	ranked = palloc(sizeof(RankedFeature) * s->n_features);
	for (int j = 0; j < s->n_features; j++)
		if (s->present[j])
		{
			ranked[n].j = j;
			ranked[n].err = s->sqerr[j];
			total += s->sqerr[j];
			n++;
		}
	qsort(ranked, n, sizeof(RankedFeature), CompareRanked);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < Min(k, n); i++)
	{
		char		buf[16];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(ae_feature_name(s, ranked[i].j, buf, sizeof(buf)));
		values[1] = Float8GetDatum(ranked[i].err);
		values[2] = Float8GetDatum(total > 0.0 ? ranked[i].err / total : 0.0);
		values[3] = CStringGetTextDatum(ae_explain_detail(s, ranked[i].j));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

AE_SCORE_ENTRY_POINTS(ae_explain, ExplainImpl)

/* ---------------------------------------------------------------- anomalies */

/* ae_anomaly_score(model, x, missing) → double precision in [0, 1] */
static Datum
AnomalyScoreImpl(FunctionCallInfo fcinfo, bool row)
{
	AeScorer   *s = LoadInput(fcinfo, row, 2);

	ae_scorer_reconstruct(s);
	PG_RETURN_FLOAT8(ae_scorer_anomaly_score(s, ae_scorer_error(s, AE_METRIC_MSE)));
}

AE_SCORE_ENTRY_POINTS(ae_anomaly_score, AnomalyScoreImpl)

/*
 * ae_is_anomaly(model, x, contamination, missing) → boolean.  Not strict: a
 * NULL contamination means "the stored threshold"; a NULL model, input or
 * missing gives NULL.
 */
static Datum
IsAnomalyImpl(FunctionCallInfo fcinfo, bool row)
{
	AeScorer   *s;
	double		threshold;
	double		c = 0.0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	if (!PG_ARGISNULL(2))
	{
		c = PG_GETARG_FLOAT8(2);
		if (!(c >= 0.0 && c <= 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("contamination must be between 0 and 1, not %g", c)));
	}
	s = LoadInput(fcinfo, row, 3);
	if (PG_ARGISNULL(2))
		threshold = ae_scorer_threshold(s);
	else
		threshold = ae_scorer_quantile(s, 1.0 - c);
	ae_scorer_reconstruct(s);
	PG_RETURN_BOOL(ae_scorer_error(s, AE_METRIC_MSE) > threshold);
}

AE_SCORE_ENTRY_POINTS(ae_is_anomaly, IsAnomalyImpl)
