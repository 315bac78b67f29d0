/*
 * test_nn.c — the network outside the gradient: activation accuracy,
 * architecture checks and their messages, parameter layout, weight
 * initialisation, inference against a naive double forward, the
 * regularisers' effect on loss and gradient, tied weights as a shared
 * untied pair, clamps, error returns, determinism and batching.
 */
#include <string.h>

#include "ae_act.h"
#include "ae_nn.h"
#include "nn_naive.h"
#include "unit.h"

static const AeActivation AllActs[] = {
	AE_ACT_LINEAR, AE_ACT_SIGMOID, AE_ACT_TANH, AE_ACT_RELU, AE_ACT_LEAKY_RELU, AE_ACT_ELU
};

#define N_ACTS 6

/* ---------------------------------------------------------------- helpers */

typedef struct Net
{
	AeArch		arch;
	AeModel		m;
	float	   *params;
	float	   *grad;
} Net;

static bool
NetMake(Net *net, const AeArch *arch, uint64_t seed)
{
	char		errbuf[AE_ERRBUF_SIZE];
	size_t		n = ae_arch_param_count(arch);

	net->arch = *arch;
	net->params = calloc(n, sizeof(float));
	net->grad = calloc(n, sizeof(float));
	if (ae_model_bind(&net->m, arch, net->params, errbuf) != AE_OK)
	{
		unit_diag("bind failed: %s", errbuf);
		return false;
	}
	ae_model_init_weights(&net->m, seed);
	return true;
}

static void
NetFree(Net *net)
{
	free(net->params);
	free(net->grad);
}

/* Non-zero biases, so that tests do not pass only because b = 0. */
static void
RandomBiases(AeModel *m, AeRng *rng, double spread)
{
	for (int l = 0; l < m->n_layers; l++)
		for (int j = 0; j < m->dims[l + 1]; j++)
			m->b[l][j] = (float) (spread * (2.0 * ae_rng_uniform(rng) - 1.0));
}

static void
FillUniform(AeRng *rng, float *x, size_t n, double lo, double hi)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float) (lo + (hi - lo) * ae_rng_uniform(rng));
}

static double
MaxAbsDiff(const float *a, const float *b, size_t n)
{
	double		worst = 0.0;

	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs((double) a[i] - b[i]));
	return worst;
}

static double
MaxAbs(const float *a, size_t n)
{
	double		worst = 0.0;

	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs(a[i]));
	return worst;
}

static double
RefAct(AeActivation act, double z)
{
	return act == AE_ACT_ELU && z <= 0 ? expm1(z) : NaiveAct(act, z);
}

/* ---------------------------------------------------------------- activations */

static void
TestActivationAccuracy(void)
{
	enum {N = 200001};
	float	   *z = malloc(sizeof(float) * N);
	float	   *y = malloc(sizeof(float) * N);
	float	   *zero = calloc(N, sizeof(float));

	/* a linear sweep of [-30, 30] and a logarithmic one of ±[1e-9, 100] */
	for (int i = 0; i < N; i++)
	{
		if (i % 2)
			z[i] = (float) (-30.0 + 60.0 * i / N);
		else
		{
			double		u = (double) (i - N / 2) / (N / 2);

			z[i] = (float) ((u < 0 ? -1 : 1) * pow(10.0, -9.0 + 11.0 * fabs(u)));
		}
	}
	for (int a = 0; a < N_ACTS; a++)
	{
		AeActivation act = AllActs[a];
		double		worst_ulp = 0.0,
					worst_z = 0.0;
		float		special[4] = {NAN, INFINITY, -INFINITY, 0.0f};
		bool		nan_ok;

		memcpy(y, z, sizeof(float) * N);
		ae_act_forward(act, y, zero, 1, N);
		for (int i = 0; i < N; i++)
		{
			double		r = RefAct(act, z[i]);
			float		rf = (float) r;
			double		ulp = fmax(fabs((double) nextafterf(rf, INFINITY) - rf), 1.4e-45);
			double		e = fabs(y[i] - r) / ulp;

			if (e > worst_ulp)
			{
				worst_ulp = e;
				worst_z = z[i];
			}
		}
		ae_act_forward(act, special, zero, 1, 4);
		nan_ok = isnan(special[0]);
		unit_ok(worst_ulp <= 4.0, "%s %s forward within 4 ulp of double libm (worst %.2f ulp at %g)",
				ae_act_variant(), ae_activation_name(act), worst_ulp, worst_z);
		unit_ok(nan_ok && special[3] == (float) RefAct(act, 0.0) &&
				(act == AE_ACT_LINEAR || act == AE_ACT_RELU || act == AE_ACT_LEAKY_RELU ||
				 act == AE_ACT_ELU ? special[1] == INFINITY : special[1] == 1.0f),
				"%s %s: NaN propagates, f(0) and f(+inf) are right (%g, %g, %g)",
				ae_act_variant(), ae_activation_name(act), special[0], special[3], special[1]);
	}
	free(z);
	free(y);
	free(zero);
}

static void
TestActivationDerivatives(void)
{
	enum {B = 7, N = 13};		/* 13: full vectors plus a partial one per row */
	float		z[B * N],
				bias[N],
				a[B * N],
				delta[B * N],
				db[N],
				d1[B * N],
				d2[B * N];
	AeRng		rng;

	ae_rng_seed(&rng, 5);
	for (int t = 0; t < N_ACTS; t++)
	{
		AeActivation act = AllActs[t];
		double		e_fwd = 0.0,
					e_d1 = 0.0,
					e_d2 = 0.0,
					e_back = 0.0,
					e_db = 0.0;

		FillUniform(&rng, z, B * N, -3.0, 3.0);
		FillUniform(&rng, bias, N, -0.5, 0.5);
		FillUniform(&rng, delta, B * N, -1.0, 1.0);
		for (int i = 0; i < N; i++)
			db[i] = 0.25f;
		memcpy(a, z, sizeof(a));
		ae_act_forward(act, a, bias, B, N);
		ae_act_derivs(act, a, d1, d2, B * N);
		{
			float		dcopy[B * N];

			memcpy(dcopy, delta, sizeof(dcopy));
			ae_act_backward(act, dcopy, a, db, B, N);
			for (int j = 0; j < N; j++)
			{
				double		col = 0.25;

				for (int b = 0; b < B; b++)
					col += dcopy[b * N + j];
				e_db = fmax(e_db, fabs(col - db[j]));
			}
			for (int i = 0; i < B * N; i++)
			{
				double		zz = (double) z[i] + bias[i % N];
				double		h = 1e-4;
				double		num2 = (NaiveDAct(act, zz + h) - NaiveDAct(act, zz - h)) / (2 * h);

				e_fwd = fmax(e_fwd, fabs(a[i] - NaiveAct(act, zz)));
				e_d1 = fmax(e_d1, fabs(d1[i] - NaiveDAct(act, zz)));
				e_back = fmax(e_back, fabs(dcopy[i] - delta[i] * NaiveDAct(act, zz)));
				/* f'' is 0 (a.e.) for the piecewise linear ones, central difference otherwise */
				e_d2 = fmax(e_d2, fabs(d2[i] - num2));
			}
		}
		unit_ok(e_fwd < 1e-6 && e_d1 < 1e-6 && e_back < 1e-6 && e_d2 < 1e-4 && e_db < 1e-5,
				"%s %s with bias: forward %.1e, f' %.1e, f'' %.1e, backward %.1e, bias sums %.1e",
				ae_act_variant(), ae_activation_name(act), e_fwd, e_d1, e_d2, e_back, e_db);
	}
}

static void
TestActivationNames(void)
{
	bool		round_trip = true;
	AeActivation act;

	for (int a = 0; a < N_ACTS; a++)
		round_trip &= ae_activation_parse(ae_activation_name(AllActs[a]), &act) && act == AllActs[a];
	unit_ok(round_trip, "activation names parse back to themselves");
	unit_ok(!ae_activation_parse("swish", &act) && !ae_activation_parse("", &act) &&
			strcmp(ae_activation_name((AeActivation) 99), "unknown") == 0,
			"unknown activation names are rejected");
}

/* ---------------------------------------------------------------- architecture */

static void
TestArchMake(void)
{
	AeArch		arch;
	static const int h1[] = {32, 8, 32};
	static const int h2[] = {16, 8, 8, 16};
	static const int h3[] = {4, 4, 4};
	static const int h4[] = {8, 4, 6};

	ae_arch_make(&arch, 64, 3, h1, AE_ACT_TANH, AE_ACT_LINEAR, false);
	unit_ok(arch.code_layer == 1 && arch.hidden_act[2] == AE_ACT_TANH &&
			arch.output_act == AE_ACT_LINEAR && !arch.tied,
			"ae_arch_make: code is the narrowest layer, activations filled in");
	ae_arch_make(&arch, 64, 4, h2, AE_ACT_RELU, AE_ACT_SIGMOID, false);
	unit_ok(arch.code_layer == 1, "two narrowest layers: the first of the middle pair (got %d)", arch.code_layer);
	ae_arch_make(&arch, 9, 3, h3, AE_ACT_RELU, AE_ACT_SIGMOID, true);
	unit_ok(arch.code_layer == 1 && ae_arch_validate(&arch, NULL) == AE_OK,
			"equal widths: the middle one, valid for tied weights");
	ae_arch_make(&arch, 9, 3, h4, AE_ACT_RELU, AE_ACT_SIGMOID, false);
	unit_ok(arch.code_layer == 1, "narrowest layer off-centre is still chosen");

	ae_arch_make(&arch, 64, 3, h1, AE_ACT_TANH, AE_ACT_LINEAR, false);
	unit_ok(ae_arch_param_count(&arch) == 64 * 32 + 32 + 32 * 8 + 8 + 8 * 32 + 32 + 32 * 64 + 64,
			"parameter count of 64-32-8-32-64 (%zu)", ae_arch_param_count(&arch));
	arch.tied = true;
	unit_ok(ae_arch_param_count(&arch) == 64 * 32 + 32 + 32 * 8 + 8 + 32 + 64,
			"tied: decoder layers own only biases (%zu)", ae_arch_param_count(&arch));
}

static void
TestBindLayout(void)
{
	static const int h[] = {6, 3, 6};
	AeArch		arch;
	AeModel		m;
	float		params[200];
	char		errbuf[AE_ERRBUF_SIZE];
	bool		ok = true;
	long		expect = 0;

	ae_arch_make(&arch, 5, 3, h, AE_ACT_TANH, AE_ACT_LINEAR, false);
	ok &= ae_model_bind(&m, &arch, params, errbuf) == AE_OK;
	for (int l = 0; l < 4; l++)
	{
		ok &= m.W_off[l] == expect && m.W[l] == params + expect && !m.W_tied[l];
		expect += (long) m.dims[l] * m.dims[l + 1];
		ok &= m.b_off[l] == expect && m.b[l] == params + expect;
		expect += m.dims[l + 1];
	}
	ok &= m.n_params == (size_t) expect && m.n_layers == 4 && m.dims[0] == 5 && m.dims[4] == 5 &&
		m.act[3] == AE_ACT_LINEAR && ae_code_width(&m) == 3;
	unit_ok(ok, "untied layout: W_l (out×in) then b_l, layer after layer");

	arch.tied = true;
	ok = ae_model_bind(&m, &arch, params, errbuf) == AE_OK;
	ok &= m.W_off[0] == 0 && m.b_off[0] == 30 && m.W_off[1] == 36 && m.b_off[1] == 54 &&
		m.W_off[2] == -1 && m.b_off[2] == 57 && m.W_off[3] == -1 && m.b_off[3] == 63 &&
		m.W[2] == m.W[1] && m.W[3] == m.W[0] && m.W_tied[2] && m.W_tied[3] &&
		!m.W_tied[0] && !m.W_tied[1] && m.n_params == 68;
	unit_ok(ok, "tied layout: decoder layers point at their encoder twin's W");
}

typedef struct BadArch
{
	const char *what;
	const char *expect;			/* a substring of the message */
	int			n_inputs;
	int			n_hidden;
	int			hidden[AE_MAX_HIDDEN + 1];
	int			code_layer;		/* -2: keep ae_arch_make's choice */
	int			hidden_act;		/* -1: tanh */
	int			output_act;
	bool		tied;
} BadArch;

static void
TestArchValidate(void)
{
	static const BadArch cases[] = {
		{"input width 0", "input width 0", 0, 1, {3}, -2, -1, AE_ACT_LINEAR, false},
		{"input width too large", "between 1 and 65536", AE_MAX_WIDTH + 1, 1, {3}, -2, -1, AE_ACT_LINEAR, false},
		{"no hidden layer", "0 hidden layers", 5, 0, {0}, 0, -1, AE_ACT_LINEAR, false},
		{"too many hidden layers", "16 hidden layers", 5, 16, {3}, 0, -1, AE_ACT_LINEAR, false},
		{"hidden width 0", "hidden layer 2 has width 0", 5, 3, {4, 0, 4}, 1, -1, AE_ACT_LINEAR, false},
		{"hidden width too large", "hidden layer 1 has width 65537", 5, 1, {AE_MAX_WIDTH + 1}, 0, -1, AE_ACT_LINEAR, false},
		{"unknown hidden activation", "unknown activation", 5, 1, {3}, 0, 42, AE_ACT_LINEAR, false},
		{"tanh output", "output activation must be linear or sigmoid, not tanh", 5, 1, {3}, 0, -1, AE_ACT_TANH, false},
		{"relu output", "not relu", 5, 1, {3}, 0, -1, AE_ACT_RELU, false},
		{"negative code layer", "code layer index -1", 5, 3, {4, 3, 4}, -1, -1, AE_ACT_LINEAR, false},
		{"code layer past the end", "code layer index 3", 5, 3, {4, 3, 4}, 3, -1, AE_ACT_LINEAR, false},
		{"tied, asymmetric widths", "mirrored", 5, 3, {4, 3, 5}, 1, -1, AE_ACT_LINEAR, true},
		{"tied, even depth", "odd number of hidden layers", 5, 2, {3, 3}, 0, -1, AE_ACT_LINEAR, true},
		{"tied, code not in the middle", "code in the middle", 5, 3, {3, 3, 3}, 0, -1, AE_ACT_LINEAR, true},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		const BadArch *bc = &cases[c];
		AeArch		arch;
		AeModel		m;
		float		params[1];
		char		errbuf[AE_ERRBUF_SIZE] = "";
		char		errbuf2[AE_ERRBUF_SIZE] = "";
		int			n_hidden_make = bc->n_hidden < 1 ? 1 : (bc->n_hidden > AE_MAX_HIDDEN ? AE_MAX_HIDDEN : bc->n_hidden);
		int			widths[AE_MAX_HIDDEN];
		AeStatus	st,
					st2;

		for (int i = 0; i < AE_MAX_HIDDEN; i++)
			widths[i] = i < bc->n_hidden ? bc->hidden[i] : 3;
		ae_arch_make(&arch, bc->n_inputs, n_hidden_make, widths, AE_ACT_TANH,
					 (AeActivation) bc->output_act, bc->tied);
		arch.n_hidden = bc->n_hidden;
		if (bc->code_layer != -2)
			arch.code_layer = bc->code_layer;
		if (bc->hidden_act >= 0)
			arch.hidden_act[0] = (AeActivation) bc->hidden_act;
		st = ae_arch_validate(&arch, errbuf);
		st2 = ae_model_bind(&m, &arch, params, errbuf2);
		unit_diag("%-32s → %s", bc->what, errbuf);
		unit_ok(st == AE_ERR_CONFIG && st2 == AE_ERR_CONFIG && strstr(errbuf, bc->expect) != NULL &&
				strcmp(errbuf, errbuf2) == 0 && ae_arch_validate(&arch, NULL) == AE_ERR_CONFIG,
				"arch rejected: %s", bc->what);
	}
}

static void
TestObjectiveValidate(void)
{
	static const int h[] = {4, 3, 4};
	AeArch		arch;
	Net			lin,
				sig;
	AeObjective obj;
	char		errbuf[AE_ERRBUF_SIZE];

	ae_arch_make(&arch, 5, 3, h, AE_ACT_TANH, AE_ACT_LINEAR, false);
	NetMake(&lin, &arch, 1);
	ae_arch_make(&arch, 5, 3, h, AE_ACT_SIGMOID, AE_ACT_SIGMOID, false);
	NetMake(&sig, &arch, 1);

	ae_objective_defaults(&obj);
	unit_ok(ae_objective_validate(&obj, &lin.m, errbuf) == AE_OK && obj.loss == AE_LOSS_MSE &&
			obj.noise == AE_NOISE_NONE && obj.l1_activity == 0.0f && obj.contractive == 0.0f &&
			obj.sparsity_weight == 0.0f && obj.sparsity_target > 0.0f && obj.sparsity_target < 1.0f,
			"defaults: plain MSE autoencoder, valid");

#define EXPECT_BAD(net, setup, substring, what) \
	do { \
		AeStatus	st_; \
		ae_objective_defaults(&obj); \
		setup; \
		errbuf[0] = '\0'; \
		st_ = ae_objective_validate(&obj, &(net).m, errbuf); \
		unit_diag("%-36s → %s", what, errbuf); \
		unit_ok(st_ == AE_ERR_CONFIG && strstr(errbuf, substring) != NULL, "objective rejected: %s", what); \
	} while (0)

	EXPECT_BAD(lin, obj.sparsity_weight = 0.1f, "sparsity_weight requires a sigmoid code layer",
			   "KL on a tanh code layer");
	EXPECT_BAD(lin, obj.loss = AE_LOSS_BCE, "requires a sigmoid output", "BCE on a linear output");
	EXPECT_BAD(lin, obj.loss = (AeLoss) 7, "unknown loss", "unknown loss");
	EXPECT_BAD(lin, obj.l1_activity = -0.1f, "l1_activity", "negative l1_activity");
	EXPECT_BAD(lin, obj.l1_activity = NAN, "l1_activity", "NaN l1_activity");
	EXPECT_BAD(sig, obj.sparsity_weight = INFINITY, "sparsity_weight", "infinite sparsity_weight");
	EXPECT_BAD(sig, obj.sparsity_target = 0.0f, "sparsity_target", "sparsity_target 0");
	EXPECT_BAD(sig, obj.sparsity_target = 1.0f, "sparsity_target", "sparsity_target 1");
	EXPECT_BAD(lin, obj.contractive = -1.0f, "contractive", "negative contractive");
	EXPECT_BAD(lin, obj.contractive_samples = -2, "contractive_samples", "negative contractive_samples");
	EXPECT_BAD(lin, (obj.noise = AE_NOISE_GAUSSIAN, obj.noise_level = 0.0f), "noise_level",
			   "gaussian noise_level 0");
	EXPECT_BAD(lin, (obj.noise = AE_NOISE_MASK, obj.noise_level = 1.0f), "noise_level", "mask noise_level 1");
	EXPECT_BAD(lin, obj.noise = (AeNoise) 9, "unknown noise", "unknown noise");
#undef EXPECT_BAD

	ae_objective_defaults(&obj);
	obj.loss = AE_LOSS_BCE;
	obj.sparsity_weight = 0.5f;
	obj.sparsity_target = 0.1f;
	obj.noise = AE_NOISE_MASK;
	obj.noise_level = 0.3f;
	obj.contractive = 0.1f;
	obj.contractive_samples = 4;
	obj.l1_activity = 0.01f;
	unit_ok(ae_objective_validate(&obj, &sig.m, errbuf) == AE_OK,
			"every regulariser at once on a sigmoid net is valid");
	ae_objective_defaults(&obj);
	obj.noise_level = 7.0f;
	unit_ok(ae_objective_validate(&obj, &lin.m, errbuf) == AE_OK,
			"noise_level is not checked when there is no noise");
	NetFree(&lin);
	NetFree(&sig);
}

/* ---------------------------------------------------------------- initialisation */

static void
TestInit(void)
{
	static const int h[] = {20, 7, 20};
	AeArch		arch;
	Net			a,
				b,
				c;
	bool		in_bounds = true,
				spread = true,
				biases_zero = true;

	ae_arch_make(&arch, 12, 3, h, AE_ACT_TANH, AE_ACT_LINEAR, false);
	arch.hidden_act[0] = AE_ACT_RELU;
	arch.hidden_act[1] = AE_ACT_SIGMOID;
	arch.hidden_act[2] = AE_ACT_ELU;
	NetMake(&a, &arch, 42);
	NetMake(&b, &arch, 42);
	NetMake(&c, &arch, 43);
	unit_ok(memcmp(a.params, b.params, a.m.n_params * sizeof(float)) == 0,
			"same seed: bit-identical parameters");
	unit_ok(memcmp(a.params, c.params, a.m.n_params * sizeof(float)) != 0,
			"different seed: different parameters");
	for (int l = 0; l < a.m.n_layers; l++)
	{
		int			fi = a.m.dims[l],
					fo = a.m.dims[l + 1];
		bool		he = a.m.act[l] == AE_ACT_RELU || a.m.act[l] == AE_ACT_LEAKY_RELU ||
			a.m.act[l] == AE_ACT_ELU;
		double		bound = he ? sqrt(6.0 / fi) : sqrt(6.0 / (fi + fo));
		double		wmax = MaxAbs(a.m.W[l], (size_t) fi * fo);
		double		mean = 0.0;

		for (int i = 0; i < fi * fo; i++)
			mean += a.m.W[l][i];
		mean /= fi * fo;
		in_bounds &= wmax <= bound;
		spread &= wmax > 0.85 * bound && fabs(mean) < 0.25 * bound;
		biases_zero &= MaxAbs(a.m.b[l], fo) == 0.0;
		unit_diag("layer %d (%s, %s bound %.4f): max |w| %.4f, mean %.4f", l,
				  ae_activation_name(a.m.act[l]), he ? "He" : "Glorot", bound, wmax, mean);
	}
	unit_ok(in_bounds, "weights within U(-a, a): He for relu/elu layers, Glorot otherwise");
	unit_ok(spread, "weights fill their range, centred on 0");
	unit_ok(biases_zero, "biases start at zero");
	NetFree(&a);
	NetFree(&b);
	NetFree(&c);

	arch.tied = true;
	NetMake(&a, &arch, 42);
	unit_ok(a.m.n_params == ae_arch_param_count(&arch) && a.m.W[3] == a.m.W[0] &&
			MaxAbs(a.m.W[0], 12 * 20) > 0.0, "tied model initialises its shared weights");
	NetFree(&a);
}

/* ---------------------------------------------------------------- inference */

static void
TestForward(void)
{
	enum {B = 9, D = 11};
	static const int h[] = {13, 5, 13};
	float		x[B * D],
				out[B * D],
				code[B * 5],
				dec[B * D],
				row_out[D],
				err[B * D];
	AeRng		rng;

	ae_rng_seed(&rng, 99);
	for (int t = 0; t < 2 * N_ACTS; t++)
	{
		AeActivation act = AllActs[t % N_ACTS];
		bool		tied = t >= N_ACTS;
		AeArch		arch;
		Net			net;
		float	   *scratch;
		double	   *pd;
		double		z[AE_MAX_HIDDEN + 1][NAIVE_MAXW];
		double		a[AE_MAX_HIDDEN + 1][NAIVE_MAXW];
		double		e_fwd = 0.0,
					e_row = 0.0,
					e_err = 0.0;
		bool		rows_identical = true;

		ae_arch_make(&arch, D, 3, h, act, t % 2 ? AE_ACT_SIGMOID : AE_ACT_LINEAR, tied);
		NetMake(&net, &arch, 7 + t);
		RandomBiases(&net.m, &rng, 0.5);
		FillUniform(&rng, x, B * D, -2.0, 2.0);
		scratch = malloc(ae_forward_scratch_size(&net.m, B) * sizeof(float));
		pd = malloc(net.m.n_params * sizeof(double));
		for (size_t i = 0; i < net.m.n_params; i++)
			pd[i] = net.params[i];

		ae_forward_range(&net.m, 0, net.m.n_layers, x, B, out, scratch);
		for (int b = 0; b < B; b++)
		{
			NaiveForward(&net.m, pd, x + b * D, z, a);
			for (int i = 0; i < D; i++)
				e_fwd = fmax(e_fwd, fabs(out[b * D + i] - a[3][i]) / (1.0 + fabs(a[3][i])));
		}
		unit_ok(e_fwd < 2e-6, "%s%s: reconstruct matches the naive double forward (max err %.1e)",
				ae_activation_name(act), tied ? " tied" : "", e_fwd);

		ae_forward_range(&net.m, 0, arch.code_layer + 1, x, B, code, scratch);
		ae_forward_range(&net.m, arch.code_layer + 1, net.m.n_layers, code, B, dec, scratch);
		unit_ok(memcmp(dec, out, sizeof(out)) == 0,
				"%s%s: decode(encode(x)) is bit-identical to reconstruct(x)",
				ae_activation_name(act), tied ? " tied" : "");

		for (int b = 0; b < B; b++)
		{
			ae_forward_range(&net.m, 0, net.m.n_layers, x + b * D, 1, row_out, scratch);
			e_row = fmax(e_row, MaxAbsDiff(row_out, out + b * D, D));
			rows_identical &= memcmp(row_out, out + b * D, sizeof(row_out)) == 0;
		}
		unit_ok(e_row < 1e-6, "%s%s: batch inference equals row by row (max diff %.1e%s)",
				ae_activation_name(act), tied ? " tied" : "", e_row,
				rows_identical ? ", bit-identical" : "");

		ae_feature_sqerr(&net.m, x, B, err, scratch);
		for (int i = 0; i < B * D; i++)
		{
			double		e = (double) out[i] - x[i];

			e_err = fmax(e_err, fabs(err[i] - e * e) / (1.0 + e * e));
		}
		unit_ok(e_err < 1e-6, "%s%s: ae_feature_sqerr is (x̂ - x)² per element (max err %.1e)",
				ae_activation_name(act), tied ? " tied" : "", e_err);
		free(scratch);
		free(pd);
		NetFree(&net);
	}
}

/* ---------------------------------------------------------------- objective */

static AeStatus
LossGrad(Net *net, const AeObjective *obj, const float *x_in, const float *x_t, int B,
		 AeLossParts *parts, uint64_t rng_seed)
{
	AeWorkspace *ws = ae_workspace_create(&net->m, obj, B, &unit_allocator);
	AeRng		rng;
	AeStatus	st;

	ae_rng_seed(&rng, rng_seed);
	st = ae_loss_grad(&net->m, ws, obj, x_in, x_t, B, net->grad, parts, &rng);
	ae_workspace_destroy(ws, &unit_allocator);
	return st;
}

static void
TestRegularisersChangeLoss(void)
{
	enum {B = 8, D = 6};
	static const int h[] = {5, 3, 5};
	AeArch		arch;
	Net			net;
	AeObjective base,
				obj;
	AeLossParts p0,
				p1;
	float		x[B * D],
				xn[B * D],
			   *g0;
	AeRng		rng;
	size_t		n;

	ae_rng_seed(&rng, 3);
	ae_arch_make(&arch, D, 3, h, AE_ACT_TANH, AE_ACT_SIGMOID, false);
	arch.hidden_act[1] = AE_ACT_SIGMOID;	/* KL needs it; the others do not care */
	NetMake(&net, &arch, 17);
	RandomBiases(&net.m, &rng, 0.3);
	FillUniform(&rng, x, B * D, 0.0, 1.0);
	n = net.m.n_params;
	g0 = malloc(n * sizeof(float));
	ae_objective_defaults(&base);
	LossGrad(&net, &base, x, x, B, &p0, 1);
	memcpy(g0, net.grad, n * sizeof(float));
	unit_ok(p0.total == p0.recon && p0.l1 == 0.0 && p0.kl == 0.0 && p0.contractive == 0.0 && p0.recon > 0.0,
			"plain objective: total = recon (%.6f)", p0.total);

	for (int v = 0; v < 7; v++)
	{
		const char *what = "";
		const float *xin = x;
		double		part = 0.0;
		double		gdiff;

		obj = base;
		switch (v)
		{
			case 0:
				what = "l1_activity";
				obj.l1_activity = 0.05f;
				break;
			case 1:
				what = "sparsity_weight";
				obj.sparsity_weight = 0.2f;
				break;
			case 2:
				what = "sparsity_target";
				obj.sparsity_weight = 0.2f;
				break;
			case 3:
				what = "contractive (exact)";
				obj.contractive = 0.1f;
				break;
			case 4:
				what = "contractive (2 projections)";
				obj.contractive = 0.1f;
				obj.contractive_samples = 2;
				break;
			case 5:
				what = "gaussian noise via ae_corrupt";
				obj.noise = AE_NOISE_GAUSSIAN;
				obj.noise_level = 0.1f;
				ae_corrupt(&obj, &rng, x, xn, B * D);
				xin = xn;
				break;
			case 6:
				what = "loss bce";
				obj.loss = AE_LOSS_BCE;
				break;
		}
		if (v == 2)
		{
			/* sparsity_target: compare two KL objectives, not KL against none */
			AeObjective kl_a = obj;

			LossGrad(&net, &kl_a, x, x, B, &p0, 1);
			memcpy(g0, net.grad, n * sizeof(float));
			obj.sparsity_target = 0.3f;
		}
		LossGrad(&net, &obj, xin, x, B, &p1, 1);
		gdiff = MaxAbsDiff(g0, net.grad, n);
		part = v == 0 ? p1.l1 : v <= 2 ? p1.kl : v <= 4 ? p1.contractive : p1.recon;
		unit_ok(p1.total != p0.total && gdiff > 1e-5 && part > 0.0 &&
				fabs(p1.total - (p1.recon + p1.l1 + p1.kl + p1.contractive)) < 1e-12,
				"%s changes the loss (%.6f → %.6f, its part %.6f) and the gradient (max diff %.2e)",
				what, p0.total, p1.total, part, gdiff);
		if (v == 2)
		{
			LossGrad(&net, &base, x, x, B, &p0, 1);
			memcpy(g0, net.grad, n * sizeof(float));
		}
	}
	free(g0);
	NetFree(&net);
}

/*
 * A tied net is an untied one whose decoder weights are the encoder's
 * transposed: same loss, and the tied gradient of W_l is the untied
 * gradient of W_l plus the transpose of its twin's.
 */
static void
TestTiedEqualsSharedUntied(void)
{
	enum {B = 5, D = 7};
	static const int h[] = {6, 4, 6};
	AeArch		arch;
	Net			tied,
				untied;
	AeObjective obj;
	AeLossParts pt,
				pu;
	float		x[B * D];
	AeRng		rng;
	double		e_grad = 0.0,
				d_enc = 0.0;

	ae_rng_seed(&rng, 8);
	ae_arch_make(&arch, D, 3, h, AE_ACT_ELU, AE_ACT_LINEAR, true);
	NetMake(&tied, &arch, 5);
	RandomBiases(&tied.m, &rng, 0.3);
	arch.tied = false;
	NetMake(&untied, &arch, 5);
	for (int l = 0; l < 4; l++)
	{
		int			fi = tied.m.dims[l],
					fo = tied.m.dims[l + 1];

		for (int j = 0; j < fo; j++)
			for (int i = 0; i < fi; i++)
				untied.m.W[l][j * fi + i] = tied.m.W_tied[l] ? tied.m.W[l][i * fo + j]
					: tied.m.W[l][j * fi + i];
		memcpy(untied.m.b[l], tied.m.b[l], sizeof(float) * fo);
	}
	FillUniform(&rng, x, B * D, -1.0, 1.0);
	ae_objective_defaults(&obj);
	obj.l1_activity = 0.05f;
	obj.contractive = 0.2f;
	LossGrad(&tied, &obj, x, x, B, &pt, 1);
	LossGrad(&untied, &obj, x, x, B, &pu, 1);
	for (int l = 0; l < 2; l++)
	{
		int			fi = tied.m.dims[l],
					fo = tied.m.dims[l + 1];
		int			twin = 3 - l;

		for (int j = 0; j < fo; j++)
			for (int i = 0; i < fi; i++)
			{
				double		gt = tied.grad[tied.m.W_off[l] + j * fi + i];
				double		ge = untied.grad[untied.m.W_off[l] + j * fi + i];
				double		gd = untied.grad[untied.m.W_off[twin] + i * fo + j];

				e_grad = fmax(e_grad, fabs(gt - (ge + gd)));
				d_enc = fmax(d_enc, fabs(gt - ge));
			}
	}
	for (int l = 0; l < 4; l++)
		e_grad = fmax(e_grad, MaxAbsDiff(tied.grad + tied.m.b_off[l], untied.grad + untied.m.b_off[l],
										 tied.m.dims[l + 1]));
	unit_ok(fabs(pt.total - pu.total) < 1e-6 * pu.total,
			"tied net and its untied copy give the same loss (%.7f, %.7f)", pt.total, pu.total);
	{
		/* an untied net from the same seed has its own decoder weights */
		Net			fresh;
		AeLossParts pf;

		NetMake(&fresh, &arch, 5);
		for (int l = 0; l < 4; l++)
			memcpy(fresh.m.b[l], tied.m.b[l], sizeof(float) * tied.m.dims[l + 1]);
		LossGrad(&fresh, &obj, x, x, B, &pf, 1);
		unit_ok(fabs(pf.total - pt.total) > 1e-3 * pt.total,
				"tying changes the loss of a net initialised from the same seed (%.6f tied, %.6f untied)",
				pt.total, pf.total);
		NetFree(&fresh);
	}
	unit_ok(e_grad < 1e-6 && d_enc > 1e-4,
			"tied gradient = encoder gradient + decoder gradientᵀ (max err %.1e; the decoder part is %.1e)",
			e_grad, d_enc);
	NetFree(&tied);
	NetFree(&untied);
}

static void
TestClamps(void)
{
	enum {B = 4, D = 5};
	static const int h[] = {3};
	AeArch		arch;
	Net			net;
	AeObjective obj;
	AeLossParts p;
	float		x[B * D],
			   *g_plain;
	AeRng		rng;
	bool		finite = true;
	AeStatus	st;

	ae_rng_seed(&rng, 4);
	ae_arch_make(&arch, D, 1, h, AE_ACT_SIGMOID, AE_ACT_SIGMOID, false);
	NetMake(&net, &arch, 2);
	FillUniform(&rng, x, B * D, 0.0, 1.0);

	/* BCE: a saturated output on the wrong side costs exactly 100 per element */
	ae_objective_defaults(&obj);
	obj.loss = AE_LOSS_BCE;
	for (int j = 0; j < D; j++)
		net.m.b[1][j] = 200.0f;
	memset(x, 0, sizeof(x));
	st = LossGrad(&net, &obj, x, x, B, &p, 1);
	for (size_t i = 0; i < net.m.n_params; i++)
		finite &= isfinite(net.grad[i]);
	unit_ok(st == AE_OK && fabs(p.recon - 100.0) < 1e-9 && finite &&
			MaxAbs(net.grad + net.m.b_off[1], D) == 0.0,
			"bce: log clamped at -100 as torch does (loss %.6f), saturated outputs get gradient 0", p.recon);
	for (int j = 0; j < D; j++)
		net.m.b[1][j] = -200.0f;
	for (int i = 0; i < B * D; i++)
		x[i] = 1.0f;
	st = LossGrad(&net, &obj, x, x, B, &p, 1);
	unit_ok(st == AE_OK && fabs(p.recon - 100.0) < 1e-9,
			"bce: x̂ = 0 against target 1 also costs 100 (loss %.6f)", p.recon);

	/* KL: a dead code unit gives ρ̂ = 0, clamped to 1e-7, and no KL gradient */
	for (int j = 0; j < D; j++)
		net.m.b[1][j] = 0.0f;
	for (int j = 0; j < 3; j++)
		net.m.b[0][j] = -200.0f;
	FillUniform(&rng, x, B * D, 0.0, 1.0);
	ae_objective_defaults(&obj);
	LossGrad(&net, &obj, x, x, B, &p, 1);
	g_plain = malloc(net.m.n_params * sizeof(float));
	memcpy(g_plain, net.grad, net.m.n_params * sizeof(float));
	obj.sparsity_weight = 0.5f;
	obj.sparsity_target = 0.1f;
	st = LossGrad(&net, &obj, x, x, B, &p, 1);
	{
		double		rho = 0.1f,
					r = 1e-7;
		double		expect = 0.5 * 3 * (rho * log(rho / r) + (1 - rho) * log((1 - rho) / (1 - r)));

		unit_ok(st == AE_OK && fabs(p.kl - expect) < 1e-6 * expect &&
				MaxAbsDiff(g_plain, net.grad, net.m.n_params) == 0.0,
				"kl: ρ̂ = 0 is clamped to 1e-7 (kl %.6f, expected %.6f) and adds no gradient",
				p.kl, expect);
	}
	free(g_plain);
	NetFree(&net);
}

static void
TestNonFinite(void)
{
	enum {B = 4, D = 5};
	static const int h[] = {4, 2, 4};
	AeArch		arch;
	Net			net;
	AeObjective obj;
	AeWorkspace *ws;
	AeLossParts p;
	float		x[B * D],
				xt[B * D];
	AeRng		rng;

	ae_rng_seed(&rng, 6);
	ae_arch_make(&arch, D, 3, h, AE_ACT_TANH, AE_ACT_LINEAR, false);
	NetMake(&net, &arch, 2);
	ae_objective_defaults(&obj);
	ws = ae_workspace_create(&net.m, &obj, B, &unit_allocator);
	FillUniform(&rng, x, B * D, -1.0, 1.0);
	memcpy(xt, x, sizeof(x));
	x[7] = NAN;
	unit_ok(ae_loss_grad(&net.m, ws, &obj, x, xt, B, net.grad, &p, NULL) == AE_ERR_NONFINITE &&
			!isfinite(p.total), "NaN in the input: AE_ERR_NONFINITE");
	unit_ok(ae_loss_only(&net.m, ws, &obj, x, xt, B, &p, NULL) == AE_ERR_NONFINITE,
			"NaN in the input: ae_loss_only too");
	x[7] = 0.5f;
	xt[3] = INFINITY;
	unit_ok(ae_loss_grad(&net.m, ws, &obj, x, xt, B, net.grad, &p, NULL) == AE_ERR_NONFINITE,
			"infinite target: AE_ERR_NONFINITE");
	xt[3] = 0.5f;
	net.m.W[1][2] = NAN;
	unit_ok(ae_loss_grad(&net.m, ws, &obj, x, xt, B, net.grad, &p, NULL) == AE_ERR_NONFINITE,
			"NaN weight (tanh between it and the output): AE_ERR_NONFINITE");
	net.m.W[1][2] = 0.1f;
	unit_ok(ae_loss_grad(&net.m, ws, &obj, x, xt, B, net.grad, &p, NULL) == AE_OK && isfinite(p.total),
			"finite again after the NaN is gone");
	ae_workspace_destroy(ws, &unit_allocator);
	NetFree(&net);
}

static void *
FailingAlloc(void *ctx, size_t size)
{
	(void) ctx;
	(void) size;
	return NULL;
}

static void
TestErrors(void)
{
	enum {B = 4, D = 5};
	static const int h[] = {4, 2, 4};
	static const AeAllocator failing = {FailingAlloc, unit_free, NULL};
	AeArch		arch;
	Net			net;
	AeObjective obj,
				cobj;
	AeWorkspace *ws,
			   *cws;
	AeLossParts p;
	float		x[B * D];
	AeRng		rng;

	ae_rng_seed(&rng, 6);
	ae_arch_make(&arch, D, 3, h, AE_ACT_TANH, AE_ACT_LINEAR, false);
	NetMake(&net, &arch, 2);
	FillUniform(&rng, x, B * D, -1.0, 1.0);
	ae_objective_defaults(&obj);
	ws = ae_workspace_create(&net.m, &obj, B, &unit_allocator);
	unit_ok(ae_workspace_create(&net.m, &obj, 0, &unit_allocator) == NULL &&
			ae_workspace_create(&net.m, &obj, B, &failing) == NULL,
			"workspace: NULL for max_batch 0 and when the allocator fails");
	unit_ok(ae_loss_grad(&net.m, ws, &obj, x, x, 0, net.grad, &p, NULL) == AE_ERR_CONFIG &&
			ae_loss_grad(&net.m, ws, &obj, x, x, B + 1, net.grad, &p, NULL) == AE_ERR_CONFIG,
			"batch of 0 rows or more than max_batch: AE_ERR_CONFIG");
	cobj = obj;
	cobj.contractive = 0.1f;
	unit_ok(ae_loss_grad(&net.m, ws, &cobj, x, x, B, net.grad, &p, NULL) == AE_ERR_CONFIG,
			"contractive objective on a workspace made without it: AE_ERR_CONFIG");
	cws = ae_workspace_create(&net.m, &cobj, B, &unit_allocator);
	cobj.contractive_samples = 3;
	unit_ok(ae_loss_grad(&net.m, cws, &cobj, x, x, B, net.grad, &p, &rng) == AE_ERR_CONFIG,
			"contractive_samples differing from the workspace's: AE_ERR_CONFIG");
	ae_workspace_destroy(cws, &unit_allocator);
	cws = ae_workspace_create(&net.m, &cobj, B, &unit_allocator);
	unit_ok(ae_loss_grad(&net.m, cws, &cobj, x, x, B, net.grad, &p, NULL) == AE_ERR_CONFIG &&
			ae_loss_grad(&net.m, cws, &cobj, x, x, B, net.grad, &p, &rng) == AE_OK,
			"random projections without an rng: AE_ERR_CONFIG; with one: fine");
	ae_workspace_destroy(cws, &unit_allocator);
	ae_workspace_destroy(ws, &unit_allocator);
	ae_workspace_destroy(NULL, &unit_allocator);
	NetFree(&net);
}

/* ---------------------------------------------------------------- determinism, batching */

static void
TestDeterminism(void)
{
	enum {B = 16, D = 9};
	static const int h[] = {7, 4, 7};
	AeArch		arch;
	Net			net;
	AeObjective obj;
	AeWorkspace *w1,
			   *w2;
	AeLossParts p1,
				p2;
	float		x[B * D],
			   *g1;
	AeRng		rng,
				r1,
				r2;

	ae_rng_seed(&rng, 10);
	ae_arch_make(&arch, D, 3, h, AE_ACT_SIGMOID, AE_ACT_SIGMOID, false);
	NetMake(&net, &arch, 3);
	RandomBiases(&net.m, &rng, 0.2);
	FillUniform(&rng, x, B * D, 0.0, 1.0);
	ae_objective_defaults(&obj);
	obj.l1_activity = 0.01f;
	obj.sparsity_weight = 0.1f;
	obj.contractive = 0.1f;
	obj.contractive_samples = 3;
	w1 = ae_workspace_create(&net.m, &obj, B, &unit_allocator);
	w2 = ae_workspace_create(&net.m, &obj, 4 * B, &unit_allocator);
	g1 = malloc(net.m.n_params * sizeof(float));
	ae_rng_seed(&r1, 77);
	ae_rng_seed(&r2, 77);
	ae_loss_grad(&net.m, w1, &obj, x, x, B, g1, &p1, &r1);
	ae_loss_grad(&net.m, w2, &obj, x, x, B, net.grad, &p2, &r2);
	unit_ok(memcmp(g1, net.grad, net.m.n_params * sizeof(float)) == 0 &&
			memcmp(&p1, &p2, sizeof(p1)) == 0 && memcmp(r1.s, r2.s, sizeof(r1.s)) == 0,
			"same inputs and rng state: bit-identical loss and gradient, whatever max_batch");
	ae_loss_grad(&net.m, w1, &obj, x, x, B, net.grad, &p2, &r2);
	unit_ok(p2.contractive != p1.contractive,
			"the projection estimator draws fresh directions from a moved rng (%.6f, %.6f)",
			p1.contractive, p2.contractive);
	ae_workspace_destroy(w1, &unit_allocator);
	ae_workspace_destroy(w2, &unit_allocator);
	free(g1);
	NetFree(&net);
}

/*
 * Loss and gradient of a batch are the means over its rows (every part but
 * KL is a per-row mean).  The input is wide enough that the exact
 * contractive tangents are processed in several chunks of rows.
 */
static void
TestBatchIsMeanOfRows(void)
{
	enum {B = 100, D = 200};
	static const int h[] = {64, 16, 64};
	AeArch		arch;
	Net			net;
	float	   *x = malloc(sizeof(float) * B * D);
	double	   *gsum;
	float	   *gbatch;
	AeRng		rng;

	ae_rng_seed(&rng, 12);
	ae_arch_make(&arch, D, 3, h, AE_ACT_TANH, AE_ACT_LINEAR, false);
	NetMake(&net, &arch, 4);
	RandomBiases(&net.m, &rng, 0.2);
	FillUniform(&rng, x, (size_t) B * D, -1.0, 1.0);
	gsum = malloc(net.m.n_params * sizeof(double));
	gbatch = malloc(net.m.n_params * sizeof(float));
	for (int samples = 0; samples <= 2; samples += 2)
	{
		AeObjective obj;
		AeWorkspace *wb,
				   *w1;
		AeLossParts pb,
					p1;
		AeRng		rb,
					r1;
		double		lsum = 0.0,
					csum = 0.0,
					e_grad = 0.0,
					scale;

		ae_objective_defaults(&obj);
		obj.l1_activity = 0.02f;
		obj.contractive = 0.05f;
		obj.contractive_samples = samples;
		wb = ae_workspace_create(&net.m, &obj, B, &unit_allocator);
		w1 = ae_workspace_create(&net.m, &obj, 1, &unit_allocator);
		ae_rng_seed(&rb, 21);
		ae_rng_seed(&r1, 21);
		ae_loss_grad(&net.m, wb, &obj, x, x, B, gbatch, &pb, &rb);
		memset(gsum, 0, net.m.n_params * sizeof(double));
		/* row by row with one rng: the same directions, drawn in the same order */
		for (int b = 0; b < B; b++)
		{
			ae_loss_grad(&net.m, w1, &obj, x + (size_t) b * D, x + (size_t) b * D, 1,
						 net.grad, &p1, &r1);
			lsum += p1.total;
			csum += p1.contractive;
			for (size_t i = 0; i < net.m.n_params; i++)
				gsum[i] += net.grad[i];
		}
		scale = MaxAbs(gbatch, net.m.n_params);
		for (size_t i = 0; i < net.m.n_params; i++)
			e_grad = fmax(e_grad, fabs(gsum[i] / B - gbatch[i]));
		unit_ok(fabs(lsum / B - pb.total) < 1e-5 * pb.total && fabs(csum / B - pb.contractive) < 1e-5 * pb.contractive &&
				e_grad < 1e-5 * scale,
				"%s: batch loss %.6f (contractive %.6f) and gradient are the means of %d single rows (grad err %.1e of %.1e)",
				samples ? "2 projections" : "exact contractive in chunks", pb.total, pb.contractive,
				B, e_grad, scale);
		ae_workspace_destroy(wb, &unit_allocator);
		ae_workspace_destroy(w1, &unit_allocator);
	}
	free(x);
	free(gsum);
	free(gbatch);
	NetFree(&net);
}

/*
 * KL is not a per-row mean: ρ̂ is the whole batch's.  A batch cut into
 * parts (a sharded training's shards, one of them empty) gives the whole
 * batch's loss and gradient when every part gets the batch's code mean
 * (ae_code_sums added up over the parts, ae_loss_grad_part), and not when
 * each part uses its own.
 */
static void
TestKlOverParts(void)
{
	enum {B = 60, D = 12, PARTS = 4};
	static const int h[] = {10, 5, 10};
	static const int cut[PARTS + 1] = {0, 17, 17, 41, B};
	AeArch		arch;
	Net			net;
	AeObjective obj;
	AeWorkspace *ws;
	AeLossParts pb,
				pp;
	float	   *x = malloc(sizeof(float) * B * D);
	float	   *gbatch;
	double	   *gsum,
			   *gown;
	double		sums[5] = {0},
				part[5],
				mean[5],
				lsum = 0,
				e_grad = 0,
				e_own = 0,
				scale;
	AeRng		rng;
	AeStatus	st = AE_OK;

	ae_rng_seed(&rng, 31);
	ae_arch_make(&arch, D, 3, h, AE_ACT_TANH, AE_ACT_LINEAR, false);
	arch.hidden_act[arch.code_layer] = AE_ACT_SIGMOID;
	NetMake(&net, &arch, 6);
	RandomBiases(&net.m, &rng, 0.3);
	FillUniform(&rng, x, (size_t) B * D, -1.0, 1.0);
	ae_objective_defaults(&obj);
	obj.sparsity_weight = 0.8f;
	obj.sparsity_target = 0.1f;
	obj.l1_activity = 0.01f;
	obj.contractive = 0.05f;	/* exact: a sum over rows, read from the same activations */
	ws = ae_workspace_create(&net.m, &obj, B, &unit_allocator);
	gbatch = malloc(net.m.n_params * sizeof(float));
	gsum = calloc(net.m.n_params, sizeof(double));
	gown = calloc(net.m.n_params, sizeof(double));
	st |= ae_loss_grad(&net.m, ws, &obj, x, x, B, gbatch, &pb, NULL);

	for (int p = 0; p < PARTS; p++)
	{
		st |= ae_code_sums(&net.m, ws, x + (size_t) cut[p] * D, cut[p + 1] - cut[p], part);
		for (int j = 0; j < 5; j++)
			sums[j] += part[j];
	}
	for (int j = 0; j < 5; j++)
		mean[j] = sums[j] / B;
	for (int p = 0; p < PARTS; p++)
	{
		int			n = cut[p + 1] - cut[p];

		if (n == 0)
			continue;
		st |= ae_loss_grad_part(&net.m, ws, &obj, x + (size_t) cut[p] * D, x + (size_t) cut[p] * D,
								n, mean, false, net.grad, &pp, NULL);
		lsum += pp.total * n;
		for (size_t i = 0; i < net.m.n_params; i++)
			gsum[i] += (double) net.grad[i] * n;
		/* the part's own ρ̂: what a shard alone would compute */
		st |= ae_loss_grad(&net.m, ws, &obj, x + (size_t) cut[p] * D, x + (size_t) cut[p] * D,
						   n, net.grad, &pp, NULL);
		for (size_t i = 0; i < net.m.n_params; i++)
			gown[i] += (double) net.grad[i] * n;
	}
	scale = MaxAbs(gbatch, net.m.n_params);
	for (size_t i = 0; i < net.m.n_params; i++)
	{
		e_grad = fmax(e_grad, fabs(gsum[i] / B - gbatch[i]));
		e_own = fmax(e_own, fabs(gown[i] / B - gbatch[i]));
	}
	unit_ok(st == AE_OK && pb.kl > 1e-3 && fabs(lsum / B - pb.total) < 1e-6 * pb.total &&
			e_grad < 1e-6 * scale,
			"KL over %d parts with the batch's code mean: loss %.6f (kl %.6f) and gradient as the whole batch's (loss %.1e, grad err %.1e of %.1e)",
			PARTS, pb.total, pb.kl, fabs(lsum / B - pb.total), e_grad, scale);
	unit_ok(e_own > 1e-4 * scale,
			"KL over parts with each part's own code mean is another gradient (err %.1e of %.1e)",
			e_own, scale);
	{
		/* right after ae_code_sums of the same rows the encoder need not run again: the same bits */
		int			n = cut[PARTS] - cut[PARTS - 1];
		const float *xp = x + (size_t) cut[PARTS - 1] * D;
		float	   *g2 = malloc(net.m.n_params * sizeof(float));
		AeLossParts p2;

		st |= ae_loss_grad_part(&net.m, ws, &obj, xp, xp, n, mean, false, g2, &p2, NULL);
		st |= ae_code_sums(&net.m, ws, xp, n, part);
		st |= ae_loss_grad_part(&net.m, ws, &obj, xp, xp, n, mean, true, net.grad, &pp, NULL);
		unit_ok(st == AE_OK && memcmp(g2, net.grad, net.m.n_params * sizeof(float)) == 0 &&
				p2.total == pp.total,
				"a part's gradient on the encoder activations ae_code_sums left is the same bits");
		free(g2);
	}
	st = ae_code_sums(&net.m, ws, x, B + 1, part);
	unit_ok(st == AE_ERR_CONFIG, "ae_code_sums refuses more rows than the workspace holds");
	ae_workspace_destroy(ws, &unit_allocator);
	free(x);
	free(gbatch);
	free(gsum);
	free(gown);
	NetFree(&net);
}

/*
 * The gradient in two stages (a shard sends the output layers' part while
 * it computes the rest): after ae_loss_grad_begin at every split, the
 * parameters from ae_grad_final_from on already hold their final bits,
 * and ae_loss_grad_finish gives ae_loss_grad_part's gradient bit for bit;
 * untied and tied, one and three hidden layers, every penalty that is a
 * sum over rows and the batch's KL.
 */
static void
TestStagedBackward(void)
{
	enum {B = 37, D = 10};
	static const int h3[] = {8, 4, 8};
	static const int h1[] = {6};
	struct
	{
		const int  *hidden;
		int			n_hidden;
		bool		tied;
	}			nets[] = {{h3, 3, false}, {h3, 3, true}, {h1, 1, false}, {h1, 1, true}};
	float	   *x = malloc(sizeof(float) * B * D);
	AeRng		rng;

	ae_rng_seed(&rng, 41);
	FillUniform(&rng, x, (size_t) B * D, -1.0, 1.0);
	for (int k = 0; k < (int) (sizeof(nets) / sizeof(nets[0])); k++)
	{
		AeArch		arch;
		Net			net;
		AeObjective obj;
		AeWorkspace *ws;
		AeLossParts pw,
					ps;
		float	   *whole,
				   *staged;
		double		mean[8];
		int			L;
		bool		final_ok = true,
					same = true,
					loss_same = true;
		AeStatus	st = AE_OK;

		ae_arch_make(&arch, D, nets[k].n_hidden, nets[k].hidden, AE_ACT_TANH, AE_ACT_LINEAR,
					 nets[k].tied);
		arch.hidden_act[arch.code_layer] = AE_ACT_SIGMOID;
		NetMake(&net, &arch, 7 + k);
		RandomBiases(&net.m, &rng, 0.3);
		ae_objective_defaults(&obj);
		obj.sparsity_weight = 0.5f;
		obj.sparsity_target = 0.2f;
		obj.l1_activity = 0.01f;
		obj.contractive = 0.05f;
		L = net.m.n_layers;
		ws = ae_workspace_create(&net.m, &obj, B, &unit_allocator);
		whole = malloc(net.m.n_params * sizeof(float));
		staged = malloc(net.m.n_params * sizeof(float));
		/* a code mean other than the batch's own, as a shard of a larger batch gets */
		for (int j = 0; j < 8; j++)
			mean[j] = 0.3 + 0.05 * j;
		st |= ae_loss_grad_part(&net.m, ws, &obj, x, x, B, mean, false, whole, &pw, NULL);
		for (int split = 1; split < L; split++)
		{
			size_t		from = ae_grad_final_from(&net.m, split);

			st |= ae_loss_grad_begin(&net.m, ws, &obj, x, x, B, mean, false, staged, &ps, split);
			final_ok &= from < net.m.n_params &&
				memcmp(staged + from, whole + from, (net.m.n_params - from) * sizeof(float)) == 0;
			st |= ae_loss_grad_finish(&net.m, ws, &obj, staged);
			same &= memcmp(staged, whole, net.m.n_params * sizeof(float)) == 0;
			loss_same &= ps.total == pw.total;
		}
		unit_ok(st == AE_OK && final_ok && same && loss_same,
				"%s, %d hidden: after the backward down to each split the gradient from "
				"ae_grad_final_from on is final, and the rest gives the whole gradient's bits",
				nets[k].tied ? "tied" : "untied", nets[k].n_hidden);
		unit_ok(ae_grad_final_from(&net.m, 0) == 0 &&
				ae_grad_final_from(&net.m, L - 1) ==
				(size_t) (nets[k].tied ? net.m.b_off[L - 1] : net.m.W_off[L - 1]),
				"%s, %d hidden: the whole network owns everything, the output layer its %s on",
				nets[k].tied ? "tied" : "untied", nets[k].n_hidden, nets[k].tied ? "bias" : "W");
		unit_ok(ae_loss_grad_finish(&net.m, ws, &obj, staged) == AE_ERR_CONFIG &&
				ae_loss_grad_begin(&net.m, ws, &obj, x, x, B, mean, false, staged, &ps, 0) == AE_ERR_CONFIG &&
				ae_loss_grad_begin(&net.m, ws, &obj, x, x, B, mean, false, staged, &ps, L) == AE_ERR_CONFIG &&
				ae_loss_grad_finish(&net.m, ws, &obj, staged) == AE_ERR_CONFIG,
				"%s, %d hidden: a finish with no begin and a split out of range are refused",
				nets[k].tied ? "tied" : "untied", nets[k].n_hidden);
		ae_workspace_destroy(ws, &unit_allocator);
		free(whole);
		free(staged);
		NetFree(&net);
	}
	free(x);
}

/* ---------------------------------------------------------------- corruption */

static void
TestCorrupt(void)
{
	enum {N = 200000};
	float	   *in = malloc(sizeof(float) * N);
	float	   *out = malloc(sizeof(float) * N);
	float	   *again = malloc(sizeof(float) * N);
	AeObjective obj;
	AeRng		rng,
				r2;
	long		zeroed = 0;
	bool		kept = true;
	double		mean = 0.0,
				var = 0.0;

	ae_rng_seed(&rng, 1);
	FillUniform(&rng, in, N, 0.5, 1.5);	/* never zero, so a zero means masked */
	ae_objective_defaults(&obj);
	ae_rng_seed(&rng, 2);
	r2 = rng;
	ae_corrupt(&obj, &rng, in, out, N);
	unit_ok(memcmp(in, out, sizeof(float) * N) == 0 && memcmp(rng.s, r2.s, sizeof(rng.s)) == 0,
			"noise none: a copy, no draws");

	obj.noise = AE_NOISE_MASK;
	obj.noise_level = 0.3f;
	ae_corrupt(&obj, &rng, in, out, N);
	for (int i = 0; i < N; i++)
	{
		if (out[i] == 0.0f)
			zeroed++;
		else
			kept &= out[i] == in[i];
	}
	unit_ok(fabs((double) zeroed / N - 0.3) < 0.005 && kept,
			"mask: %.4f of the elements zeroed (level 0.3), the rest untouched", (double) zeroed / N);

	obj.noise = AE_NOISE_GAUSSIAN;
	obj.noise_level = 0.2f;
	ae_rng_seed(&rng, 5);
	r2 = rng;
	ae_corrupt(&obj, &rng, in, out, N);
	for (int i = 0; i < N; i++)
		mean += out[i] - in[i];
	mean /= N;
	for (int i = 0; i < N; i++)
		var += (out[i] - in[i] - mean) * (out[i] - in[i] - mean);
	var /= N;
	unit_ok(fabs(mean) < 0.003 && fabs(sqrt(var) - 0.2) < 0.003,
			"gaussian: noise mean %.4f, std %.4f (level 0.2)", mean, sqrt(var));
	{
		/* the shape of a normal: share within 1σ and 2σ, kurtosis 3 */
		long		in1 = 0,
					in2 = 0;
		double		m4 = 0.0;

		for (int i = 0; i < N; i++)
		{
			double		z = (out[i] - in[i]) / 0.2;

			in1 += fabs(z) < 1.0;
			in2 += fabs(z) < 2.0;
			m4 += z * z * z * z;
		}
		unit_ok(fabs((double) in1 / N - 0.6827) < 0.005 && fabs((double) in2 / N - 0.9545) < 0.003 &&
				fabs(m4 / N - 3.0) < 0.1,
				"gaussian: %.4f within 1σ, %.4f within 2σ, kurtosis %.3f", (double) in1 / N,
				(double) in2 / N, m4 / N);
	}
	memcpy(again, in, sizeof(float) * N);
	ae_corrupt(&obj, &r2, again, again, N);
	unit_ok(memcmp(again, out, sizeof(float) * N) == 0,
			"same rng state: the same corruption, also in place");
	for (int kind = 0; kind < 2; kind++)
	{
		/* an odd length is the prefix of the next even one */
		float		a[7],
					b[8];

		obj.noise = kind ? AE_NOISE_MASK : AE_NOISE_GAUSSIAN;
		ae_rng_seed(&rng, 31);
		ae_corrupt(&obj, &rng, in, a, 7);
		ae_rng_seed(&rng, 31);
		ae_corrupt(&obj, &rng, in, b, 8);
		unit_ok(memcmp(a, b, sizeof(a)) == 0, "%s: 7 elements are the first 7 of 8",
				kind ? "mask" : "gaussian");
	}
	free(in);
	free(out);
	free(again);
}

int
main(void)
{
	/* both kernel variants when the CPU has the wide one; the rest uses the best */
	ae_act_force_portable(true);
	TestActivationAccuracy();
	TestActivationDerivatives();
	ae_act_force_portable(false);
	if (strcmp(ae_act_variant(), "portable") != 0)
	{
		TestActivationAccuracy();
		TestActivationDerivatives();
	}
	else
		unit_diag("this CPU runs only the portable activation kernels");
	TestActivationNames();
	TestArchMake();
	TestBindLayout();
	TestArchValidate();
	TestObjectiveValidate();
	TestInit();
	TestForward();
	TestRegularisersChangeLoss();
	TestTiedEqualsSharedUntied();
	TestClamps();
	TestNonFinite();
	TestErrors();
	TestDeterminism();
	TestBatchIsMeanOfRows();
	TestKlOverParts();
	TestStagedBackward();
	TestCorrupt();
	return unit_done();
}
