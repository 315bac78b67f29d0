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
#include "utils/guc.h"

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
