/*
 * test_gradcheck.c — the analytic gradient of ae_loss_grad checked by
 * central differences, for every activation × loss × regulariser on a
 * one-hidden-layer net (5-3-5), two deep ones (5-4-3-4-5, 5-4-4-3-4-4-5:
 * encoders of two and three layers) and a wider one (11-10-9-10-11) whose
 * widths fill whole vectors; that last one also with the portable kernels
 * when the CPU runs the wide ones.
 *
 * Each case makes three comparisons:
 *   value   ae_loss_only's loss parts against the double-precision naive
 *           objective of nn_naive.h (independent code, same formulas);
 *   double  ae_loss_grad against central differences of that naive
 *           objective in double (h = 1e-5: no float noise, so the bound is
 *           tight and measures the float gradient itself);
 *   float   ae_loss_grad against central differences of ae_loss_only with
 *           the float parameters moved by h = 4e-3 (the core against itself;
 *           float rounding of the loss divided by 2h is noise of ~1e-5 per
 *           unit of loss, and smaller h only makes it worse, larger h
 *           trades it for truncation error).
 * Relative errors are |g - g_fd| / max(|g_fd|, 1% of max|g_fd|, floor):
 * components far below the gradient's scale are judged against that scale
 * (the float comparison also against 2e-3 per unit of loss).
 *
 * Points are drawn away from kinks (ReLU family at 0, |a| of the L1 term at
 * 0, ELU's f'' at 0): every pre-activation of a layer with a kink must be at
 * least 0.02 from zero, or the biases and data are redrawn.
 */
#include <string.h>

#include "ae_act.h"
#include "ae_nn.h"
#include "nn_naive.h"
#include "unit.h"

#define BATCH		6
#define H_DOUBLE	1e-5
#define H_FLOAT		4e-3
#define TOL_DOUBLE	1e-3
#define TOL_FLOAT	2e-2		/* the float loss is noisy: worst cases reach ~1e-2 */
#define FLOOR_FLOAT	2e-3		/* per unit of loss: float rounding of the loss / (2h) */
#define TOL_VALUE	2e-5
#define MARGIN		0.02

typedef enum Reg
{
	REG_NONE,
	REG_L1,
	REG_KL,
	REG_NOISE,					/* input ≠ target (denoising) */
	REG_CONTRACTIVE,			/* exact: closed form (1 layer) or all basis tangents */
	REG_CONTRACTIVE_PROJ,		/* random projections (deep encoders only) */
	REG_TIED,
	REG_TIED_ALL,				/* tied + l1 + contractive together */
	REG_COUNT
} Reg;

static const char *const RegNames[] = {
	"none", "l1", "kl", "noise", "contractive", "contractive-proj", "tied", "tied+l1+contractive"
};

static double	worst_double = 0.0;
static double	worst_float = 0.0;

static double
MaxRelErr(const float *g, const double *ref, size_t n, double floor)
{
	double		scale = 0.0,
				worst = 0.0;

	for (size_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(ref[i]));
	for (size_t i = 0; i < n; i++)
	{
		double		den = fmax(fmax(fabs(ref[i]), 0.01 * scale), floor);

		worst = fmax(worst, fabs(g[i] - ref[i]) / den);
	}
	return worst;
}

/*
 * Whether the objective has a kink at z = 0 in layer l: the ReLU family's
 * f', ELU's f'' (which only the contractive penalty uses), and |a| of the
 * L1 term at the code layer (a sigmoid code is never 0).
 */
static bool
HasKink(const AeModel *m, const AeObjective *obj, int l)
{
	AeActivation act = m->act[l];
	int			C = m->arch.code_layer;

	return act == AE_ACT_RELU || act == AE_ACT_LEAKY_RELU ||
		(act == AE_ACT_ELU && obj->contractive > 0.0f && l <= C) ||
		(l == C && obj->l1_activity > 0.0f && act != AE_ACT_SIGMOID);
}

/* Smallest |z| over the kinked layers and every row: the distance to the nearest kink. */
static double
MinAbsPreact(const AeModel *m, const AeObjective *obj, const double *p, const float *x, int B)
{
	double		z[AE_MAX_HIDDEN + 1][NAIVE_MAXW];
	double		a[AE_MAX_HIDDEN + 1][NAIVE_MAXW];
	double		least = INFINITY;

	for (int b = 0; b < B; b++)
	{
		NaiveForward(m, p, x + (size_t) b * m->dims[0], z, a);
		for (int l = 0; l < m->n_layers; l++)
			if (HasKink(m, obj, l))
				for (int j = 0; j < m->dims[l + 1]; j++)
					least = fmin(least, fabs(z[l][j]));
	}
	return least;
}

static void
RunCase(int D, int n_hidden, const int *hidden, AeActivation act, AeLoss loss, Reg reg)
{
	AeArch		arch;
	AeModel		m;
	AeObjective obj;
	AeWorkspace *ws;
	AeRng		rng,
				rng0,
				rtmp;
	char		errbuf[AE_ERRBUF_SIZE];
	float	   *params,
			   *grad,
			   *V = NULL;
	double	   *pd,
			   *gd,
			   *gf;
	float	   *x_t = malloc(sizeof(float) * BATCH * D);
	float	   *x_in = malloc(sizeof(float) * BATCH * D);
	AeLossParts parts,
				ref;
	bool		tied = reg == REG_TIED || reg == REG_TIED_ALL;
	bool		ok = true;
	int			tries = 0;
	double		err_d,
				err_f,
				err_v;
	char		name[160];
	AeStatus	st;
	size_t		n;

	snprintf(name, sizeof(name), "%d-%d-layer %s %s %s%s", D, n_hidden, ae_activation_name(act),
			 loss == AE_LOSS_MSE ? "mse" : "bce", RegNames[reg],
			 strcmp(ae_act_variant(), "portable") == 0 ? " (portable)" : "");
	ae_arch_make(&arch, D, n_hidden, hidden, act,
				 loss == AE_LOSS_BCE ? AE_ACT_SIGMOID : AE_ACT_LINEAR, tied);
	if (reg == REG_KL)
		arch.hidden_act[arch.code_layer] = AE_ACT_SIGMOID;
	n = ae_arch_param_count(&arch);
	params = malloc(n * sizeof(float));
	grad = malloc(n * sizeof(float));
	pd = malloc(n * sizeof(double));
	gd = malloc(n * sizeof(double));
	gf = malloc(n * sizeof(double));
	if (ae_model_bind(&m, &arch, params, errbuf) != AE_OK)
	{
		unit_ok(0, "%s: bind failed: %s", name, errbuf);
		return;
	}
	ae_model_init_weights(&m, 1000 + n_hidden);

	ae_objective_defaults(&obj);
	obj.loss = loss;
	if (reg == REG_L1 || reg == REG_TIED_ALL)
		obj.l1_activity = 0.1f;
	if (reg == REG_KL)
	{
		obj.sparsity_weight = 0.5f;
		obj.sparsity_target = 0.2f;
	}
	if (reg == REG_CONTRACTIVE || reg == REG_CONTRACTIVE_PROJ || reg == REG_TIED_ALL)
		obj.contractive = 0.3f;
	if (reg == REG_CONTRACTIVE_PROJ)
		obj.contractive_samples = 3;
	if (reg == REG_NOISE)
	{
		obj.noise = AE_NOISE_GAUSSIAN;
		obj.noise_level = 0.2f;
	}
	if ((st = ae_objective_validate(&obj, &m, errbuf)) != AE_OK)
	{
		unit_ok(0, "%s: objective rejected: %s", name, errbuf);
		return;
	}

	/* random non-zero biases and data; redraw until no pre-activation is near a kink */
	ae_rng_seed(&rng, 77 + act * 10 + reg);
	do
	{
		for (int l = 0; l < m.n_layers; l++)
			for (int j = 0; j < m.dims[l + 1]; j++)
				params[m.b_off[l] + j] = (float) (0.6 * ae_rng_uniform(&rng) - 0.3);
		for (int i = 0; i < BATCH * D; i++)
			x_t[i] = loss == AE_LOSS_BCE ? (float) (0.05 + 0.9 * ae_rng_uniform(&rng))
				: (float) (2.0 * ae_rng_uniform(&rng) - 1.0);
		ae_corrupt(&obj, &rng, x_t, x_in, BATCH * D);
		for (size_t i = 0; i < n; i++)
			pd[i] = params[i];
	} while (MinAbsPreact(&m, &obj, pd, x_in, BATCH) < MARGIN && ++tries < 500);
	if (tries >= 500)
	{
		unit_ok(0, "%s: could not draw a point away from kinks", name);
		return;
	}

	ws = ae_workspace_create(&m, &obj, BATCH, &unit_allocator);
	ae_rng_seed(&rng0, 4242);
	if (reg == REG_CONTRACTIVE_PROJ)
	{
		/*
		 * the core's directions: B·k of them, row by row, each of D random
		 * signs taken from the low bits of one fresh draw (D ≤ 64)
		 */
		int			k = obj.contractive_samples;

		V = malloc(sizeof(float) * BATCH * k * D);
		rtmp = rng0;
		for (int v = 0; v < BATCH * k; v++)
		{
			uint64_t	bits = ae_rng_next(&rtmp);

			for (int i = 0; i < D; i++)
				V[v * D + i] = (bits >> i) & 1 ? 1.0f : -1.0f;
		}
	}

	/* analytic */
	rtmp = rng0;
	st = ae_loss_grad(&m, ws, &obj, x_in, x_t, BATCH, grad, &parts, &rtmp);
	ok &= st == AE_OK;

	/* value against the naive objective */
	NaiveLoss(&m, pd, &obj, x_in, x_t, BATCH, V, &ref);
	err_v = fabs(parts.total - ref.total) / fmax(fabs(ref.total), 1e-6);
	ok &= unit_close(parts.recon, ref.recon, 1e-7, TOL_VALUE) &&
		unit_close(parts.l1, ref.l1, 1e-7, TOL_VALUE) &&
		unit_close(parts.kl, ref.kl, 1e-7, TOL_VALUE) &&
		unit_close(parts.contractive, ref.contractive, 1e-7, TOL_VALUE);

	/* double central differences of the naive objective */
	for (size_t i = 0; i < n; i++)
	{
		double		keep = pd[i];
		double		up,
					down;

		pd[i] = keep + H_DOUBLE;
		up = NaiveLoss(&m, pd, &obj, x_in, x_t, BATCH, V, NULL);
		pd[i] = keep - H_DOUBLE;
		down = NaiveLoss(&m, pd, &obj, x_in, x_t, BATCH, V, NULL);
		pd[i] = keep;
		gd[i] = (up - down) / (2.0 * H_DOUBLE);
	}

	/* float central differences of the core's own loss */
	for (size_t i = 0; i < n; i++)
	{
		float		keep = params[i];
		float		hi = keep + (float) H_FLOAT;
		float		lo = keep - (float) H_FLOAT;
		AeLossParts pu,
					pl;

		params[i] = hi;
		rtmp = rng0;
		ok &= ae_loss_only(&m, ws, &obj, x_in, x_t, BATCH, &pu, &rtmp) == AE_OK;
		params[i] = lo;
		rtmp = rng0;
		ok &= ae_loss_only(&m, ws, &obj, x_in, x_t, BATCH, &pl, &rtmp) == AE_OK;
		params[i] = keep;
		gf[i] = (pu.total - pl.total) / ((double) hi - (double) lo);
	}

	err_d = MaxRelErr(grad, gd, n, 1e-7);
	err_f = MaxRelErr(grad, gf, n, FLOOR_FLOAT * fmax(1.0, parts.total));
	worst_double = fmax(worst_double, err_d);
	worst_float = fmax(worst_float, err_f);
	unit_diag("%-40s loss %.6f (rel diff %.1e)  max rel err: double %.2e  float %.2e",
			  name, parts.total, err_v, err_d, err_f);
	unit_ok(ok && err_d < TOL_DOUBLE && err_f < TOL_FLOAT,
			"%s: gradient matches finite differences", name);

	ae_workspace_destroy(ws, &unit_allocator);
	free(V);
	free(x_t);
	free(x_in);
	free(params);
	free(grad);
	free(pd);
	free(gd);
	free(gf);
}

typedef struct Net
{
	int			d;
	int			n_hidden;
	int			hidden[5];
} Net;

int
main(void)
{
	/*
	 * Widths below and above the vector lengths (4 and 8 floats), so that
	 * both the vector bodies and the partial tails of every elementwise
	 * pass are exercised: 9 = 8 + 1 = 4 + 4 + 1.
	 */
	static const Net nets[] = {
		{5, 1, {3}},
		{5, 3, {4, 3, 4}},
		{5, 5, {4, 4, 3, 4, 4}},
		{11, 3, {10, 9, 10}},
	};
	static const AeActivation acts[] = {
		AE_ACT_LINEAR, AE_ACT_SIGMOID, AE_ACT_TANH, AE_ACT_RELU, AE_ACT_LEAKY_RELU, AE_ACT_ELU
	};
	bool		wide = strcmp(ae_act_variant(), "portable") != 0;

	/* with wide kernels available, the portable ones are checked on the wide net too */
	for (int pass = 0; pass < (wide ? 2 : 1); pass++)
	{
		ae_act_force_portable(pass == 1);
		for (int net = pass == 1 ? 3 : 0; net < 4; net++)
			for (int a = 0; a < 6; a++)
				for (int loss = 0; loss < 2; loss++)
					for (int reg = 0; reg < REG_COUNT; reg++)
					{
						if (reg == REG_CONTRACTIVE_PROJ && nets[net].n_hidden == 1)
							continue;	/* one-layer encoders always use the exact form */
						RunCase(nets[net].d, nets[net].n_hidden, nets[net].hidden,
								acts[a], (AeLoss) loss, (Reg) reg);
					}
	}
	ae_act_force_portable(false);
	unit_diag("worst max relative error: double reference %.2e, float self-check %.2e",
			  worst_double, worst_float);
	return unit_done();
}
