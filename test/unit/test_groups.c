/*
 * test_groups.c — softmax groups of mixed-type models (ae_groups.h).
 *
 *   gradient   ae_loss_grad of mixed models (plain inputs under linear and
 *              sigmoid outputs, mse and bce, unit and uneven slot weights,
 *              tied weights, an L1 code penalty) against central
 *              differences of an independent double-precision objective
 *              (NaiveForward of nn_naive.h and the formula of ae_groups.h);
 *   value      the same objective's value against ae_loss_only;
 *   gather     the gathered first layer against a dense multiply, batched
 *              and one row at a time (ae_infer_row);
 *   errors     row and slot errors against the formula; a uniform guess of
 *              a group costs its weight; the finished output is a softmax;
 *   noise      denoising leaves groups one-hot;
 *   training   a mixed model learns its categories (ae_train);
 *   bundle     format version 2 round trip, version 1 kept for numeric
 *              models, hostile group sections refused.
 */
#include <string.h>

#include "ae_bundle.h"
#include "ae_groups.h"
#include "ae_infer.h"
#include "ae_nn.h"
#include "ae_train.h"
#include "nn_naive.h"
#include "unit.h"

#define BATCH		6
#define H_DOUBLE	1e-5
#define TOL_DOUBLE	1e-3
#define TOL_VALUE	2e-5

/* 3 plain inputs, then groups of 3 and 4: d = 10 */
#define D			10
static AeGroup TestGroupList[2] = {{3, 3}, {6, 4}};

static void
MakeGroups(AeGroups *g, float *weights, bool uneven)
{
	g->n_plain = 3;
	g->n_groups = 2;
	g->groups = TestGroupList;
	g->weights = weights;
	for (int s = 0; s < 5; s++)
		weights[s] = uneven ? 0.5f + 0.4f * s : 1.0f;
}

/* random targets: plain in (0.05, 0.95) or (-1, 1), groups one-hot */
static void
FillRows(AeRng *rng, float *x, int B, bool unit_interval)
{
	for (int b = 0; b < B; b++)
	{
		float	   *r = x + (size_t) b * D;

		memset(r, 0, sizeof(float) * D);
		for (int j = 0; j < 3; j++)
			r[j] = unit_interval ? (float) (0.05 + 0.9 * ae_rng_uniform(rng))
				: (float) (2.0 * ae_rng_uniform(rng) - 1.0);
		r[3 + (int) ae_rng_below(rng, 3)] = 1.0f;
		r[6 + (int) ae_rng_below(rng, 4)] = 1.0f;
	}
}

/* the mixed reconstruction loss in double, from the formula of ae_groups.h */
static double
NaiveMixedLoss(const AeModel *m, const AeGroups *g, const double *p, AeLoss loss,
			   const AeObjective *obj, const float *x_in, const float *x_t, int B)
{
	double		z[AE_MAX_HIDDEN + 1][NAIVE_MAXW];
	double		a[AE_MAX_HIDDEN + 1][NAIVE_MAXW];
	int			L = m->n_layers;
	int			C = m->arch.code_layer;
	double		wsum = 0.0,
				total = 0.0,
				l1 = 0.0;

	for (int s = 0; s < ae_groups_slots(g); s++)
		wsum += g->weights[s];
	for (int b = 0; b < B; b++)
	{
		const float *t = x_t + (size_t) b * D;
		double		row = 0.0;

		NaiveForward(m, p, x_in + (size_t) b * D, z, a);
		for (int j = 0; j < g->n_plain; j++)
		{
			double		y = m->arch.output_act == AE_ACT_SIGMOID ? 1.0 / (1.0 + exp(-a[L - 1][j])) : a[L - 1][j];
			double		e;

			if (loss == AE_LOSS_BCE)
				e = -(t[j] * fmax(log(y), -100.0) + (1.0 - t[j]) * fmax(log(1.0 - y), -100.0));
			else
				e = (y - t[j]) * (y - t[j]);
			row += g->weights[j] * e;
		}
		for (int i = 0; i < g->n_groups; i++)
		{
			const AeGroup *gr = &g->groups[i];
			double		se = 0.0,
						ce = 0.0;

			for (int k = 0; k < gr->width; k++)
				se += exp(a[L - 1][gr->start + k]);
			for (int k = 0; k < gr->width; k++)
				ce -= t[gr->start + k] * log(exp(a[L - 1][gr->start + k]) / se);
			row += g->weights[g->n_plain + i] * ce / log((double) gr->width);
		}
		total += row / wsum;
		for (int j = 0; j < m->dims[C + 1]; j++)
			l1 += fabs(a[C][j]);
	}
	return total / B + (double) obj->l1_activity * l1 / B;
}

static void
GradCase(AeActivation out_act, AeLoss loss, bool uneven, bool tied, bool l1)
{
	int			hidden[3] = {6, 3, 6};
	AeArch		arch;
	AeModel		m;
	AeGroups	g;
	float		weights[5];
	AeObjective obj;
	AeWorkspace *ws;
	AeRng		rng;
	AeLossParts parts;
	char		errbuf[AE_ERRBUF_SIZE];
	float		x[BATCH * D];
	size_t		n;
	float	   *params,
			   *grad;
	double	   *pd;
	double		worst = 0.0,
				scale = 0.0,
				ref;
	char		name[128];

	snprintf(name, sizeof(name), "mixed 10-6-3-6-10 tanh, %s output, %s%s%s%s",
			 ae_activation_name(out_act), loss == AE_LOSS_BCE ? "bce" : "mse",
			 uneven ? ", uneven weights" : "", tied ? ", tied" : "", l1 ? ", l1" : "");
	ae_arch_make(&arch, D, 3, hidden, AE_ACT_TANH, out_act, tied);
	n = ae_arch_param_count(&arch);
	params = malloc(n * sizeof(float));
	grad = malloc(n * sizeof(float));
	pd = calloc(n, sizeof(double));
	ae_model_bind(&m, &arch, params, errbuf);
	ae_model_init_weights(&m, 31);
	MakeGroups(&g, weights, uneven);
	unit_ok(ae_model_set_groups(&m, &g, errbuf) == AE_OK, "%s: groups accepted", name);
	ae_rng_seed(&rng, 5 + (int) out_act + 2 * (int) loss + 4 * uneven + 8 * tied);
	for (int l = 0; l < m.n_layers; l++)
		for (int j = 0; j < m.dims[l + 1]; j++)
			params[m.b_off[l] + j] = (float) (0.6 * ae_rng_uniform(&rng) - 0.3);
	FillRows(&rng, x, BATCH, loss == AE_LOSS_BCE);
	ae_objective_defaults(&obj);
	obj.loss = loss;
	obj.l1_activity = l1 ? 0.1f : 0.0f;
	ws = ae_workspace_create(&m, &obj, BATCH, &unit_allocator);

	for (size_t i = 0; i < n; i++)
		pd[i] = params[i];
	ae_loss_grad(&m, ws, &obj, x, x, BATCH, grad, &parts, NULL);
	ref = NaiveMixedLoss(&m, &g, pd, loss, &obj, x, x, BATCH);
	unit_ok(fabs(parts.total - ref) <= TOL_VALUE * fmax(1.0, fabs(ref)),
			"%s: loss %.9g equals the double formula %.9g", name, parts.total, ref);

	{
		double	   *fd = malloc(n * sizeof(double));

		for (size_t i = 0; i < n; i++)
		{
			double		keep = pd[i],
						up,
						down;

			pd[i] = keep + H_DOUBLE;
			up = NaiveMixedLoss(&m, &g, pd, loss, &obj, x, x, BATCH);
			pd[i] = keep - H_DOUBLE;
			down = NaiveMixedLoss(&m, &g, pd, loss, &obj, x, x, BATCH);
			pd[i] = keep;
			fd[i] = (up - down) / (2 * H_DOUBLE);
			scale = fmax(scale, fabs(fd[i]));
		}
		for (size_t i = 0; i < n; i++)
			worst = fmax(worst, fabs(grad[i] - fd[i]) / fmax(fmax(fabs(fd[i]), 0.01 * scale), 1e-6));
		free(fd);
	}
	unit_ok(worst < TOL_DOUBLE, "%s: gradient matches central differences (worst relative error %.2e)",
			name, worst);
	ae_workspace_destroy(ws, &unit_allocator);
	free(params);
	free(grad);
	free(pd);
}

/* the gathered first layer and the one-row path against a dense model */
static void
GatherCase(void)
{
	int			hidden[1] = {16};
	AeArch		arch;
	AeModel		dense,
				mixed;
	AeGroups	g;
	float		weights[5];
	char		errbuf[AE_ERRBUF_SIZE];
	float		x[BATCH * D],
				yd[BATCH * D],
				ym[BATCH * D],
				yr[D];
	float	   *params,
			   *scratch,
			   *packed,
			   *rs;
	AeRng		rng;
	double		worst = 0.0,
				worst_row = 0.0;

	ae_arch_make(&arch, D, 1, hidden, AE_ACT_RELU, AE_ACT_LINEAR, false);
	params = malloc(ae_arch_param_count(&arch) * sizeof(float));
	ae_model_bind(&dense, &arch, params, errbuf);
	ae_model_init_weights(&dense, 8);
	ae_model_bind(&mixed, &arch, params, errbuf);
	MakeGroups(&g, weights, false);
	ae_model_set_groups(&mixed, &g, errbuf);
	ae_rng_seed(&rng, 99);
	FillRows(&rng, x, BATCH, false);
	x[D + 3] = 0.0f;			/* row 1: its first group all zero (a dropped group) */
	scratch = malloc(ae_forward_scratch_size(&dense, BATCH) * sizeof(float));
	ae_forward_range(&dense, 0, dense.n_layers, x, BATCH, yd, scratch);
	ae_forward_range(&mixed, 0, mixed.n_layers, x, BATCH, ym, scratch);
	for (int i = 0; i < BATCH * D; i++)
		worst = fmax(worst, fabs(yd[i] - ym[i]));
	unit_ok(worst < 1e-5, "gathered first layer equals the dense multiply (worst %.2e)", worst);

	packed = malloc(ae_infer_packed_size(&mixed) * sizeof(float));
	rs = malloc(ae_infer_scratch_size(&mixed) * sizeof(float));
	ae_infer_pack(&mixed, packed);
	for (int b = 0; b < BATCH; b++)
	{
		ae_infer_row(&mixed, packed, 0, mixed.n_layers, x + (size_t) b * D, yr, rs);
		for (int j = 0; j < D; j++)
			worst_row = fmax(worst_row, fabs(yr[j] - ym[(size_t) b * D + j]));
	}
	unit_ok(worst_row < 1e-5, "one-row inference of a mixed model equals the batched pass (worst %.2e)",
			worst_row);
	free(params);
	free(scratch);
	free(packed);
	free(rs);
}

static void
ErrorCases(void)
{
	AeGroups	g;
	float		weights[5];
	float		z[2 * D] = {0},
				x[2 * D] = {0},
				slots[2 * 5],
				rows[2];
	double		expect;

	MakeGroups(&g, weights, true);
	/* row 0: plain errors 1, 2, 0; uniform logits: each group costs its weight */
	z[0] = 1.0f;
	z[1] = 2.0f;
	x[3] = 1.0f;
	x[7] = 1.0f;
	/* row 1: perfect plain inputs, groups sure of the right class */
	x[D + 4] = 1.0f;
	z[D + 4] = 30.0f;
	x[D + 9] = 1.0f;
	z[D + 9] = 30.0f;
	ae_groups_slot_errors(&g, AE_ACT_LINEAR, z, x, 2, D, slots);
	ae_groups_row_errors(&g, AE_ACT_LINEAR, z, x, 2, D, rows);
	unit_ok(fabsf(slots[0] - weights[0] * 1.0f) < 1e-6 && fabsf(slots[1] - weights[1] * 4.0f) < 1e-6
			&& slots[2] == 0.0f, "plain slot errors are weighted squared errors");
	unit_ok(fabsf(slots[3] - weights[3]) < 1e-5 && fabsf(slots[4] - weights[4]) < 1e-5,
			"a uniform guess of a group costs its weight (%g, %g)", slots[3], slots[4]);
	expect = (weights[0] + 4.0 * weights[1] + weights[3] + weights[4]) / ae_groups_weight_sum(&g);
	unit_ok(fabs(rows[0] - expect) < 1e-5, "row error is the weighted slot mean (%g vs %g)", rows[0], expect);
	unit_ok(rows[1] < 1e-10, "a confident right guess costs almost nothing (%g)", rows[1]);

	ae_groups_finish(&g, AE_ACT_SIGMOID, z, 2, D);
	{
		double		s0 = z[3] + z[4] + z[5],
					s1 = z[6] + z[7] + z[8] + z[9];

		unit_ok(fabs(s0 - 1.0) < 1e-6 && fabs(s1 - 1.0) < 1e-6 && fabsf(z[3] - 1.0f / 3) < 1e-6,
				"finished groups are softmax distributions");
		unit_ok(fabsf(z[0] - 1.0f / (1.0f + expf(-1.0f))) < 1e-6, "finished plain outputs pass the output activation");
	}
}

static void
ValidateCases(void)
{
	AeGroups	g;
	float		weights[5];
	AeGroup		bad[2] = {{3, 3}, {6, 3}};
	AeGroup		narrow[2] = {{3, 1}, {4, 6}};
	char		errbuf[AE_ERRBUF_SIZE];

	MakeGroups(&g, weights, false);
	unit_ok(ae_groups_validate(&g, D, errbuf) == AE_OK, "valid groups accepted");
	unit_ok(ae_groups_validate(&g, D + 1, errbuf) == AE_ERR_CONFIG, "groups that stop short refused: %s", errbuf);
	g.groups = bad;
	unit_ok(ae_groups_validate(&g, D, errbuf) == AE_ERR_CONFIG, "groups not tiling the inputs refused: %s", errbuf);
	g.groups = narrow;
	unit_ok(ae_groups_validate(&g, D, errbuf) == AE_ERR_CONFIG, "a group of width 1 refused: %s", errbuf);
	g.groups = TestGroupList;
	weights[4] = 0.0f;
	unit_ok(ae_groups_validate(&g, D, errbuf) == AE_ERR_CONFIG, "a zero weight refused: %s", errbuf);
	weights[4] = NAN;
	unit_ok(ae_groups_validate(&g, D, errbuf) == AE_ERR_CONFIG, "a NaN weight refused: %s", errbuf);
}

static void
NoiseCase(void)
{
	AeGroups	g;
	float		weights[5];
	float		clean[BATCH * D],
				noisy[BATCH * D];
	AeObjective obj;
	AeRng		rng;
	bool		groups_same = true,
				plain_moved = false;

	MakeGroups(&g, weights, false);
	ae_rng_seed(&rng, 3);
	FillRows(&rng, clean, BATCH, false);
	ae_objective_defaults(&obj);
	obj.noise = AE_NOISE_GAUSSIAN;
	obj.noise_level = 0.3f;
	ae_corrupt(&obj, &rng, clean, noisy, BATCH * D);
	ae_keep_groups_clean(&g, clean, noisy, BATCH, D);
	for (int i = 0; i < BATCH * D; i++)
	{
		if (i % D >= 3)
			groups_same &= noisy[i] == clean[i];
		else
			plain_moved |= noisy[i] != clean[i];
	}
	unit_ok(groups_same && plain_moved, "denoising moves plain inputs and leaves groups one-hot");
}

/* plain input 0 decides group 0's class: a trained model must learn it */
static void
TrainCase(void)
{
	enum
	{
		N = 600
	};
	int			hidden[1] = {8};
	AeArch		arch;
	AeModel		m;
	AeGroups	g;
	float		weights[5];
	AeTrainConfig cfg;
	AeTrainResult res;
	char		errbuf[AE_ERRBUF_SIZE];
	float	   *X = calloc((size_t) N * D, sizeof(float));
	float	   *params,
			   *sq,
			   *scratch;
	float		err[N];
	AeRng		rng;
	AeStatus	st;
	double		before = 0.0,
				after = 0.0;

	ae_rng_seed(&rng, 12);
	for (int i = 0; i < N; i++)
	{
		float	   *r = X + (size_t) i * D;
		int			c = (int) ae_rng_below(&rng, 3);

		r[0] = (float) c - 1.0f + 0.1f * (float) (ae_rng_uniform(&rng) - 0.5);
		r[1] = (float) (ae_rng_uniform(&rng) - 0.5);
		r[2] = -r[1];
		r[3 + c] = 1.0f;
		r[6 + (c + 1) % 4] = 1.0f;
	}
	ae_arch_make(&arch, D, 1, hidden, AE_ACT_TANH, AE_ACT_LINEAR, false);
	params = malloc(ae_arch_param_count(&arch) * sizeof(float));
	ae_model_bind(&m, &arch, params, errbuf);
	MakeGroups(&g, weights, false);
	ae_model_set_groups(&m, &g, errbuf);
	ae_model_init_weights(&m, 4);
	sq = malloc(sizeof(float) * N * D);
	scratch = malloc(ae_forward_scratch_size(&m, N) * sizeof(float));
	ae_row_errors(&m, X, N, err, sq, scratch);
	for (int i = 0; i < N; i++)
		before += err[i] / N;
	ae_train_config_defaults(&cfg);
	cfg.epochs = 60;
	cfg.optim.learning_rate = 0.01f;
	cfg.validation_fraction = 0.0f;
	memset(&res, 0, sizeof(res));
	st = ae_train(&m, &cfg, X, N, &unit_allocator, NULL, NULL, &res, errbuf);
	unit_ok(st == AE_OK, "a mixed model trains: %s", st == AE_OK ? "ok" : errbuf);
	ae_row_errors(&m, X, N, err, sq, scratch);
	for (int i = 0; i < N; i++)
		after += err[i] / N;
	unit_ok(after < 0.25 * before, "training lowers the mixed error from %.4f to %.4f", before, after);
	unit_free(NULL, res.history);
	free(X);
	free(params);
	free(sq);
	free(scratch);
}

/* a minimal bundle around a model */
static void
FillBundle(AeBundle *b, const AeArch *arch, float *params, float *off, float *sc, float *mean)
{
	memset(b, 0, sizeof(*b));
	b->arch = *arch;
	b->params = params;
	b->norm_method = AE_NORM_ZSCORE;
	b->norm_offset = off;
	b->norm_scale = sc;
	b->feature_mean = mean;
	b->contamination = NAN;
	b->threshold = NAN;
	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		b->quantiles[i] = NAN;
	b->train_loss = NAN;
	b->val_loss = NAN;
}

/* serialise, corrupt a byte at off (when off >= 0), fix the checksum, parse */
static AeStatus
Reparse(const AeBundle *b, long off, uint8_t value, AeBundle *out, char *errbuf)
{
	size_t		len = ae_bundle_serialized_size(b);
	uint8_t    *buf = malloc(len);
	AeStatus	st;

	ae_bundle_serialize(b, buf);
	if (off >= 0)
	{
		uint32_t	crc;

		buf[off] = value;
		crc = ae_crc32c(buf + AE_BUNDLE_HEADER_SIZE, len - AE_BUNDLE_HEADER_SIZE);
		for (int i = 0; i < 4; i++)
			buf[12 + i] = (uint8_t) (crc >> (8 * i));
	}
	st = ae_bundle_deserialize(buf, len, out, &unit_allocator, errbuf);
	free(buf);
	return st;
}

static void
BundleCases(void)
{
	int			hidden[1] = {4};
	AeArch		arch;
	AeBundle	b,
				out;
	AeGroups	g;
	float		weights[5];
	float		off[D] = {0},
				sc[D],
				mean[D] = {0};
	float	   *params;
	char		errbuf[AE_ERRBUF_SIZE];
	char		cols[] = "amount\0country\0channel";
	uint8_t		hdr[AE_BUNDLE_HEADER_SIZE];
	size_t		len;
	uint8_t    *buf;
	long		groups_at;

	for (int j = 0; j < D; j++)
		sc[j] = 1.0f;
	ae_arch_make(&arch, D, 1, hidden, AE_ACT_RELU, AE_ACT_LINEAR, false);
	params = calloc(ae_arch_param_count(&arch), sizeof(float));
	params[5] = 0.25f;
	FillBundle(&b, &arch, params, off, sc, mean);

	/* a numeric model is still written as version 1 */
	len = ae_bundle_serialized_size(&b);
	buf = malloc(len);
	ae_bundle_serialize(&b, buf);
	memcpy(hdr, buf, sizeof(hdr));
	unit_ok(hdr[4] == 1 && hdr[5] == 0, "a model without groups or encoding is written as format version 1");
	free(buf);

	MakeGroups(&g, weights, true);
	b.groups = g;
	b.encoding_json = "{\"columns\": []}";
	b.n_columns = 3;
	b.columns = cols;
	b.columns_len = sizeof(cols);
	len = ae_bundle_serialized_size(&b);
	buf = malloc(len);
	ae_bundle_serialize(&b, buf);
	unit_ok(buf[4] == 2, "a mixed model is written as format version 2");
	free(buf);
	unit_ok(Reparse(&b, -1, 0, &out, errbuf) == AE_OK, "version 2 reads back: %s", errbuf);
	unit_ok(out.groups.n_plain == 3 && out.groups.n_groups == 2 && out.groups.groups[1].start == 6
			&& out.groups.groups[1].width == 4 && out.groups.weights[4] == weights[4]
			&& strcmp(out.encoding_json, b.encoding_json) == 0 && out.n_columns == 3
			&& out.params[5] == 0.25f, "groups, weights, encoding and the column list survive");
	ae_bundle_free(&out, &unit_allocator);

	/* the groups section starts after the columns: find it from the end */
	groups_at = (long) (len - (4 + strlen(b.encoding_json)) - (4 + 4 + 2 * 4 + 5 * 4));
	unit_ok(Reparse(&b, groups_at + 8, 1, &out, errbuf) == AE_ERR_FORMAT,
			"a group of width 1 is refused: %s", errbuf);
	unit_ok(Reparse(&b, groups_at + 8, 0xff, &out, errbuf) == AE_ERR_FORMAT,
			"a group wider than the inputs is refused: %s", errbuf);
	unit_ok(Reparse(&b, groups_at + 4, 5, &out, errbuf) == AE_ERR_FORMAT,
			"a hostile group count is refused: %s", errbuf);
	unit_ok(Reparse(&b, groups_at + 16 + 4 * 4 + 3, 0xff, &out, errbuf) == AE_ERR_FORMAT,
			"a negative slot weight is refused: %s", errbuf);
	sc[4] = 2.0f;
	unit_ok(Reparse(&b, -1, 0, &out, errbuf) == AE_ERR_FORMAT, "a normalised group input is refused: %s", errbuf);
	sc[4] = 1.0f;
	b.encoding_json = NULL;
	unit_ok(Reparse(&b, -1, 0, &out, errbuf) == AE_ERR_FORMAT, "groups without an encoding are refused: %s", errbuf);
	free(params);
}

int
main(void)
{
	for (int tied = 0; tied <= 1; tied++)
		for (int uneven = 0; uneven <= 1; uneven++)
		{
			GradCase(AE_ACT_LINEAR, AE_LOSS_MSE, uneven, tied, false);
			GradCase(AE_ACT_SIGMOID, AE_LOSS_MSE, uneven, tied, false);
			GradCase(AE_ACT_SIGMOID, AE_LOSS_BCE, uneven, tied, false);
		}
	GradCase(AE_ACT_LINEAR, AE_LOSS_MSE, true, false, true);
	GatherCase();
	ErrorCases();
	ValidateCases();
	NoiseCase();
	TrainCase();
	BundleCases();
	return unit_done();
}
