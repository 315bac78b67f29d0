/*
 * ae_groups.c — softmax groups of mixed-type models (ae_groups.h): their
 * validation, the mixed reconstruction loss and its gradient, per-slot
 * errors, the finishing of raw outputs, and the gather/scatter first layer.
 *
 * The formulas are PyTorch's: a plain input's loss is nn.MSELoss or
 * nn.BCELoss (log clamped at -100, gradient divided by max(p(1-p), 1e-12))
 * on f_out(z), a group's nn.CrossEntropyLoss on its logits; the reference
 * test (test/reference/torch_reference.py, "mixed") builds the same sum.
 *
 * Shape legend: B rows, d inputs, P plain inputs, S slots, O first-layer
 * outputs, K a group's width.
 */
#include "ae_groups.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ae_act.h"
#include "ae_blas.h"
#include "ae_nn_int.h"
#include "ae_simd.h"

#define AE_BCE_LOG_MIN	-100.0	/* torch's clamp of log(p) and log(1-p) */
#define AE_BCE_EPS		1e-12f	/* torch's floor of p(1-p) in the BCE gradient */

AeStatus
ae_groups_validate(const AeGroups *g, int d, char *errbuf)
{
	int			next;

	if (g->n_plain < 0 || g->n_plain > d)
	{
		AE_ERR(errbuf, "%d plain inputs do not fit %d inputs", g->n_plain, d);
		return AE_ERR_CONFIG;
	}
	if (g->n_groups < 0 || g->n_groups > (d - g->n_plain) / 2)
	{
		AE_ERR(errbuf, "%d groups cannot tile %d inputs", g->n_groups, d - g->n_plain);
		return AE_ERR_CONFIG;
	}
	next = g->n_plain;
	for (int i = 0; i < g->n_groups; i++)
	{
		const AeGroup *gr = &g->groups[i];

		if (gr->start != next || gr->width < 2 || gr->width > d - next)
		{
			AE_ERR(errbuf, "group %d (inputs %d to %d) does not continue at input %d with at least 2 inputs inside %d",
				   i + 1, gr->start + 1, gr->start + gr->width, next + 1, d);
			return AE_ERR_CONFIG;
		}
		next += gr->width;
	}
	if (next != d)
	{
		AE_ERR(errbuf, "the groups end at input %d, not at the last input %d", next, d);
		return AE_ERR_CONFIG;
	}
	for (int s = 0; s < ae_groups_slots(g); s++)
		if (!(isfinite(g->weights[s]) && g->weights[s] > 0.0f))
		{
			AE_ERR(errbuf, "slot weight %d must be a finite number > 0, not %g",
				   s + 1, (double) g->weights[s]);
			return AE_ERR_CONFIG;
		}
	return AE_OK;
}

AeStatus
ae_model_set_groups(AeModel *model, const AeGroups *g, char *errbuf)
{
	AeStatus	st = ae_groups_validate(g, model->dims[0], errbuf);

	if (st != AE_OK)
		return st;
	model->groups = g;
	/* raw outputs: logits for the groups; ae_groups_finish applies f_out to the rest */
	model->act[model->n_layers - 1] = AE_ACT_LINEAR;
	return AE_OK;
}

double
ae_groups_weight_sum(const AeGroups *g)
{
	double		sum = 0.0;

	for (int s = 0; s < ae_groups_slots(g); s++)
		sum += g->weights[s];
	return sum;
}

static inline double
Sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

/*
 * The first j in [from, n) with x[j] != 0, or n: one-hot inputs are mostly
 * zeros, so four at a time are ruled out by one vector compare.
 */
static inline int
NextNonzero(const float *x, int from, int n)
{
	int			j = from;

	/* sixteen at a time while they are all zero (the bits, sign ignored: -0 is 0) */
	for (; j + 16 <= n; j += 16)
	{
		AeVi4		bits = ((AeVi4) AeLoad4(x + j) | (AeVi4) AeLoad4(x + j + 4) |
							(AeVi4) AeLoad4(x + j + 8) | (AeVi4) AeLoad4(x + j + 12)) & 0x7fffffff;

		if ((bits[0] | bits[1] | bits[2] | bits[3]) != 0)
			break;
	}
	for (; j + 4 <= n; j += 4)
	{
		AeVi4		nz = AeLoad4(x + j) != AE_SPLAT(AeVf4, 0.0f);

		if ((nz[0] | nz[1] | nz[2] | nz[3]) != 0)
			break;
	}
	for (; j < n; j++)
		if (x[j] != 0.0f)
			return j;
	return n;
}

/* max_k z_k, four lanes at a time (NaN-free logits: the caller checks finiteness) */
static inline float
GroupMax(const float *z, int K)
{
	AeVf4		m4 = AE_SPLAT(AeVf4, z[0]);
	float		m;
	int			k = 0;

	for (; k + 4 <= K; k += 4)
	{
		AeVf4		v = AeLoad4(z + k);

		m4 = AeSelect4(v > m4, v, m4);
	}
	m = m4[0];
	for (int i = 1; i < 4; i++)
		m = m4[i] > m ? m4[i] : m;
	for (; k < K; k++)
		m = z[k] > m ? z[k] : m;
	return m;
}

/*
 * log Σ_k exp(z_k) of a group, the max taken out first so that no exp
 * overflows; e (K) or NULL receives exp(z_k - max), whose sum is returned
 * in *sum.  Single-precision exponentials (what PyTorch's float softmax
 * computes: the activations' vector kernel, ae_act.h), summed in double.
 */
static double
LogSumExp(const float *z, int K, float *e, double *sum)
{
	float		m = GroupMax(z, K);
	double		s;

	s = ae_exp_shift(z, K, m, e);
	if (sum)
		*sum = s;
	return m + log(s);
}

/*
 * CE of one group's logits z against target t, and when dz, w·(softmax·Σt -
 * t) into it: one exponential per logit, shared by the loss and the
 * gradient (the exponentials are kept in dz until the gradient replaces
 * them).
 */
static double
GroupCrossEntropy(const float *z, const float *t, int K, double w, float *dz)
{
	double		s;
	double		lse = LogSumExp(z, K, dz, &s);
	double		ce = 0.0;
	double		tsum = 0.0;

	for (int k = NextNonzero(t, 0, K); k < K; k = NextNonzero(t, k + 1, K))
	{
		ce += (double) t[k] * (lse - z[k]);
		tsum += t[k];
	}
	if (dz)
	{
		float		scale = (float) (w * tsum / s);

		for (int k = 0; k < K; k++)
			dz[k] = scale * dz[k] - (float) w * t[k];
	}
	return ce;
}

/* loss of plain input value z against x, and ∂/∂z scaled by w into *dz */
static inline double
PlainLoss(AeLoss loss, AeActivation f_out, float z, float x, double w, float *dz)
{
	if (f_out == AE_ACT_SIGMOID)
	{
		float		p = (float) Sigmoid(z);
		float		fp = p * (1.0f - p);

		if (loss == AE_LOSS_BCE)
		{
			double		lp = fmax(log((double) p), AE_BCE_LOG_MIN);
			double		lq = fmax(log1p(-(double) p), AE_BCE_LOG_MIN);

			if (dz)
				*dz = (float) (w * (p - x) / (fp > AE_BCE_EPS ? fp : AE_BCE_EPS) * fp);
			return -((double) x * lp + (1.0 - x) * lq);
		}
		else
		{
			float		e = p - x;

			if (dz)
				*dz = (float) (w * 2.0 * e * fp);
			return (double) e * e;
		}
	}
	else
	{
		float		e = z - x;

		if (dz)
			*dz = (float) (w * 2.0 * e);
		return (double) e * e;
	}
}

double
ae_groups_recon_loss(const AeGroups *g, AeLoss loss, AeActivation output_act,
					 const float *z, const float *x, int B, int d, float *dz)
{
	int			P = g->n_plain;
	double		norm = (double) B * ae_groups_weight_sum(g);
	double		total = 0.0;

	for (int b = 0; b < B; b++)
	{
		const float *zr = z + (size_t) b * d;
		const float *xr = x + (size_t) b * d;
		float	   *dr = dz ? dz + (size_t) b * d : NULL;

		for (int j = 0; j < P; j++)
		{
			double		w = g->weights[j];

			total += w * PlainLoss(loss, output_act, zr[j], xr[j], w / norm, dr ? dr + j : NULL);
		}
		for (int i = 0; i < g->n_groups; i++)
		{
			const AeGroup *gr = &g->groups[i];
			double		w = g->weights[P + i] / log((double) gr->width);

			total += w * GroupCrossEntropy(zr + gr->start, xr + gr->start, gr->width, w / norm,
										   dr ? dr + gr->start : NULL);
		}
	}
	return total / norm;
}

/* one row's slot errors w_s·e_s (into er when not NULL), and their sum */
static double
RowSlotErrors(const AeGroups *g, AeActivation output_act, const float *zr, const float *xr,
			  float *er)
{
	int			P = g->n_plain;
	double		sum = 0.0;

	for (int j = 0; j < P; j++)
	{
		double		e = g->weights[j] * PlainLoss(AE_LOSS_MSE, output_act, zr[j], xr[j], 0.0, NULL);

		if (er)
			er[j] = (float) e;
		sum += e;
	}
	for (int i = 0; i < g->n_groups; i++)
	{
		const AeGroup *gr = &g->groups[i];
		double		e = g->weights[P + i] / log((double) gr->width) *
			GroupCrossEntropy(zr + gr->start, xr + gr->start, gr->width, 0.0, NULL);

		if (er)
			er[P + i] = (float) e;
		sum += e;
	}
	return sum;
}

void
ae_groups_slot_errors(const AeGroups *g, AeActivation output_act,
					  const float *z, const float *x, int B, int d, float *err)
{
	int			S = ae_groups_slots(g);

	for (int b = 0; b < B; b++)
		RowSlotErrors(g, output_act, z + (size_t) b * d, x + (size_t) b * d, err + (size_t) b * S);
}

void
ae_groups_row_errors(const AeGroups *g, AeActivation output_act,
					 const float *z, const float *x, int B, int d, float *errors)
{
	double		wsum = ae_groups_weight_sum(g);

	for (int b = 0; b < B; b++)
		errors[b] = (float) (RowSlotErrors(g, output_act, z + (size_t) b * d, x + (size_t) b * d, NULL) / wsum);
}

void
ae_groups_finish(const AeGroups *g, AeActivation output_act, float *z, int B, int d)
{
	for (int b = 0; b < B; b++)
	{
		float	   *zr = z + (size_t) b * d;

		if (output_act == AE_ACT_SIGMOID)
			for (int j = 0; j < g->n_plain; j++)
				zr[j] = (float) Sigmoid(zr[j]);
		for (int i = 0; i < g->n_groups; i++)
		{
			const AeGroup *gr = &g->groups[i];
			float	   *e = zr + gr->start;
			double		s;

			(void) LogSumExp(e, gr->width, e, &s);
			for (int k = 0; k < gr->width; k++)
				e[k] = (float) (e[k] / s);
		}
	}
}

void
ae_keep_groups_clean(const AeGroups *g, const float *clean, float *x, int B, int d)
{
	int			P = g->n_plain;

	for (int b = 0; b < B; b++)
		memcpy(x + (size_t) b * d + P, clean + (size_t) b * d + P, sizeof(float) * (d - P));
}

/* ---------------------------------------------------------------- the first layer */

void
ae_groups_first_forward(const AeGroups *g, const float *W, const float *in,
						int B, int d, int O, float *out)
{
	/* W: (O, d); in: (B, d); out: (B, O) */
	int			P = g->n_plain;

	if (P > 0)
		ae_gemm(false, true, B, O, P, 1.0f, in, d, W, d, 0.0f, out, O);
	else
		memset(out, 0, sizeof(float) * (size_t) B * O);
	for (int b = 0; b < B; b++)
	{
		const float *xr = in + (size_t) b * d;
		float	   *zr = out + (size_t) b * O;

		/* the group inputs are one-hot: a scan of K floats finds the column to add */
		for (int j = NextNonzero(xr, P, d); j < d; j = NextNonzero(xr, j + 1, d))
		{
			float		v = xr[j];

			for (int o = 0; o < O; o++)
				zr[o] += v * W[(size_t) o * d + j];
		}
	}
}

void
ae_groups_first_backward(const AeGroups *g, const float *dz, const float *in,
						 int B, int d, int O, float *dW)
{
	/* dz: (B, O); in: (B, d); dW: (O, d) */
	int			P = g->n_plain;

	if (P > 0)
		ae_gemm(true, false, O, P, B, 1.0f, dz, O, in, d, 1.0f, dW, d);
	for (int b = 0; b < B; b++)
	{
		const float *xr = in + (size_t) b * d;
		const float *dr = dz + (size_t) b * O;

		for (int j = NextNonzero(xr, P, d); j < d; j = NextNonzero(xr, j + 1, d))
		{
			float		v = xr[j];

			for (int o = 0; o < O; o++)
				dW[(size_t) o * d + j] += v * dr[o];
		}
	}
}

void
ae_groups_first_row(const AeGroups *g, const float *packed, const float *in, int O, float *z)
{
	int			d = g->n_groups > 0 ? g->groups[g->n_groups - 1].start + g->groups[g->n_groups - 1].width : g->n_plain;

	for (int j = NextNonzero(in, g->n_plain, d); j < d; j = NextNonzero(in, j + 1, d))
	{
		float		v = in[j];
		const float *row = packed + (size_t) j * O;

		for (int o = 0; o < O; o++)
			z[o] += v * row[o];
	}
}
