/*
 * ae_score_output.c — the network run on a loaded row and what comes out
 * of it: codes, reconstructions (checked finite, denormalised), the error
 * metrics reduced in double precision, anomaly scores from the stored
 * quantiles, and the result arrays.
 *
 * The one-row kernel (src/core/ae_infer.c) is the default; the BLAS path
 * (autoenc.scoring_kernel = blas) is the one training uses.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "ae_encoding.h"
#include "ae_groups.h"
#include "ae_infer.h"
#include "ae_scorer.h"

int			ae_scoring_kernel = AE_KERNEL_FUSED;

const struct config_enum_entry ae_scoring_kernel_options[] = {
	{"fused", AE_KERNEL_FUSED, false},
	{"blas", AE_KERNEL_BLAS, false},
	{NULL, 0, false}
};

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
	int			n = s->d;

	CheckFinite(s, s->out, s->d);
	if (m->model.groups)
	{
		/* raw outputs: the output activation on plain ones, each group's softmax */
		ae_groups_finish(m->model.groups, m->model.arch.output_act, s->out, 1, s->d);
		n = m->model.groups->n_plain;
	}
	for (int j = 0; j < n; j++)
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

/*
 * A mixed model's error: its weighted slot mean (ae_groups.h), the loss it
 * was trained on; mse and rmse only, as the other metrics do not apply to
 * a categorical column's cross-entropy.
 */
static double
MixedError(AeScorer *s, AeMetric metric)
{
	const AeModel *model = &s->entry->model;
	float		e;

	if (metric != AE_METRIC_MSE && metric != AE_METRIC_RMSE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metric \"%s\" is not defined for model \"%s\", which has categorical, date/time or NULL-learning columns",
						metric == AE_METRIC_MAE ? "mae" : metric == AE_METRIC_MAX ? "max" : "bce", s->name),
				 errhint("Use mse (the weighted reconstruction loss the model was trained on) or rmse.")));
	/* a non-finite output makes the error itself NaN or infinite: one check */
	ae_groups_row_errors(model->groups, model->arch.output_act, s->out, s->xn, 1, s->d, &e);
	if (unlikely(!isfinite(e)))
		ReportNonFinite(s);
	return metric == AE_METRIC_RMSE ? sqrt(e) : e;
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

	if (s->entry->model.groups)
		return MixedError(s, metric);

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
	const AeModel *model = &s->entry->model;

	CheckFinite(s, s->out, s->d);
	if (model->groups)
	{
		/* per column: the sum of its slots' weighted errors (the scratch is free after the run) */
		const AeEncoding *enc = s->entry->encoding;
		float	   *slot = s->scratch;

		ae_groups_slot_errors(model->groups, model->arch.output_act, s->out, s->xn, 1, s->d, slot);
		for (int c = 0; c < enc->n_columns; c++)
		{
			s->sqerr[c] = (float) AeColumnSlotSum(&enc->cols[c], slot);
			s->present[c] = true;
		}
		return;
	}
	for (int j = 0; j < s->d; j++)
	{
		float		e = s->out[j] - s->xn[j];

		s->sqerr[j] = s->present[j] ? e * e : 0.0f;
	}
}

/* ---------------------------------------------------------------- explanations */

/* plain output j in original units (raw outputs of a mixed model get f_out first) */
static double
PlainOutput(const AeScorer *s, int j)
{
	const AeCachedModel *m = s->entry;
	double		v = s->out[j];

	if (m->model.groups && m->sigmoid_output)
		v = 1.0 / (1.0 + exp(-v));
	return v * m->norm_scale[j] + m->norm_offset[j];
}

static double
PlainInput(const AeScorer *s, int j)
{
	return (double) s->xn[j] * s->entry->norm_scale[j] + s->entry->norm_offset[j];
}

/* days since 2000-01-01 as the column's type prints it */
static char *
TimeText(AeColumnKind kind, double days)
{
	if (!(fabs(days) < 1e7))
		return psprintf("%g days from 2000-01-01", days);
	if (kind == AE_COL_DATE)
		return DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum((DateADT) floor(days + 0.5))));
	if (kind == AE_COL_TIMESTAMP)
		return DatumGetCString(DirectFunctionCall1(timestamp_out,
												   TimestampGetDatum((Timestamp) (days * USECS_PER_DAY))));
	return DatumGetCString(DirectFunctionCall1(timestamptz_out,
											   TimestampTzGetDatum((TimestampTz) (days * USECS_PER_DAY))));
}

static char *
Quoted(const char *v)
{
	return v ? quote_literal_cstr(v) : pstrdup("NULL");
}

/* The most likely input of a group (argmax of its logits), and its probability */
static int
GroupArgmax(const float *z, int K, double *p)
{
	int			best = 0;
	double		s = 0.0;

	for (int k = 1; k < K; k++)
		if (z[k] > z[best])
			best = k;
	for (int k = 0; k < K; k++)
		s += exp((double) z[k] - z[best]);
	*p = 1.0 / s;
	return best;
}

/* P(NULL) of a numeric or date column's missing indicator (value, NULL) */
static double
MissingProbability(const AeScorer *s, const AeColumnEncoding *col)
{
	const float *z = s->out + col->group_first;

	return 1.0 / (1.0 + exp((double) z[0] - z[1]));
}

/* A column of a mixed model: what the row holds and what the model expects. */
static char *
ColumnDetail(AeScorer *s, int c)
{
	const AeColumnEncoding *col = &s->entry->encoding->cols[c];
	bool		was_null = s->col_nulls[c];

	if (col->kind == AE_COL_CATEGORICAL)
	{
		double		p;
		int			best = GroupArgmax(s->out + col->group_first, col->group_width, &p);
		const char *expected;
		char	   *observed;

		expected = best < col->n_categories ? Quoted(col->categories[best]) :
			best == col->n_categories ? "(other)" : "NULL";
		if (was_null)
			observed = pstrdup("NULL");
		else
		{
			char	   *text = AeCategoryText(s->col_values[c], s->row_type[c]);

			observed = AeCategoryLookup(col, text) >= 0 ? Quoted(text) :
				psprintf("%s (not among the learnt categories)", Quoted(text));
		}
		return psprintf("observed %s, expected %s (p=%.2f)", observed, expected, p);
	}
	if (col->missing && (was_null || MissingProbability(s, col) > 0.5))
	{
		double		p = MissingProbability(s, col);

		return psprintf("observed %s, expected %s (p(NULL)=%.2f)",
						was_null ? "NULL" : "a value", p > 0.5 ? "NULL" : "a value", p);
	}
	if (col->kind == AE_COL_NUMERIC)
		return psprintf("observed %g, expected %g", PlainInput(s, col->first), PlainOutput(s, col->first));
	return psprintf("observed %s, expected %s",
					TimeText(col->kind, PlainInput(s, col->first + col->n_feat - 1)),
					TimeText(col->kind, PlainOutput(s, col->first + col->n_feat - 1)));
}

char *
ae_explain_detail(AeScorer *s, int j)
{
	if (s->entry->encoding)
		return ColumnDetail(s, j);
	return psprintf("observed %g, expected %g", PlainInput(s, j), PlainOutput(s, j));
}

/* ---------------------------------------------------------------- reconstructed values */

/* A double as a value of numeric base type base (22003 when an integer type cannot hold it). */
static Datum
NumberDatum(double v, Oid base, int32 typmod, const char *column)
{
	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			{
				double		r = rint(v);
				double		lim = base == INT2OID ? 32767.0 : base == INT4OID ? 2147483647.0 : 9.2233720368547748e18;

				if (!(fabs(r) <= lim))
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("the reconstruction of column \"%s\" (%g) is out of range for type %s",
									column, v, format_type_be(base))));
				return base == INT2OID ? Int16GetDatum((int16) r) :
					base == INT4OID ? Int32GetDatum((int32) r) : Int64GetDatum((int64) r);
			}
		case FLOAT4OID:
			return Float4GetDatum((float4) v);
		case FLOAT8OID:
			return Float8GetDatum(v);
		default:
			{
				Datum		n = DirectFunctionCall1(float8_numeric, Float8GetDatum(v));

				/* numeric(p, s): rounded to the column's scale, as an assignment would */
				if (typmod >= 0)
					n = DirectFunctionCall2(numeric, n, Int32GetDatum(typmod));
				return n;
			}
	}
}

static Datum
TimeDatum(AeColumnKind kind, double days)
{
	if (kind == AE_COL_DATE)
		return DateADTGetDatum((DateADT) floor(days + 0.5));
	/* to the microsecond, what timestamps hold */
	return TimestampGetDatum((Timestamp) rint(days * USECS_PER_DAY));
}

Datum
ae_scorer_column_value(AeScorer *s, int c, Oid typid, int32 typmod, bool *isnull)
{
	const AeCachedModel *m = s->entry;
	Oid			base = getBaseType(typid);
	Datum		v;

	*isnull = false;
	if (m->encoding == NULL)
		v = NumberDatum(PlainOutput(s, c), base, base == typid ? typmod : -1, m->columns[c]);
	else
	{
		const AeColumnEncoding *col = &m->encoding->cols[c];

		if (col->kind == AE_COL_CATEGORICAL)
		{
			double		p;
			int			best = GroupArgmax(s->out + col->group_first, col->group_width, &p);
			Oid			in;
			Oid			ioparam;

			/* "other" stands for no category in particular; the NULL category is NULL */
			if (best >= col->n_categories)
			{
				*isnull = true;
				return (Datum) 0;
			}
			getTypeInputInfo(typid, &in, &ioparam);
			return OidInputFunctionCall(in, col->categories[best], ioparam, typmod);
		}
		if (col->missing && MissingProbability(s, col) > 0.5)
		{
			*isnull = true;
			return (Datum) 0;
		}
		if (col->kind == AE_COL_NUMERIC)
			v = NumberDatum(PlainOutput(s, col->first), base, base == typid ? typmod : -1, col->name);
		else
			v = TimeDatum(col->kind, PlainOutput(s, col->first + col->n_feat - 1));
	}
	if (base != typid)
		domain_check(v, false, typid, NULL, NULL);
	return v;
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

AeMetric
ae_parse_metric(const text *value)
{
	if (ae_text_is(value, "mse"))
		return AE_METRIC_MSE;
	if (ae_text_is(value, "mae"))
		return AE_METRIC_MAE;
	if (ae_text_is(value, "rmse"))
		return AE_METRIC_RMSE;
	if (ae_text_is(value, "max"))
		return AE_METRIC_MAX;
	if (ae_text_is(value, "bce"))
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
