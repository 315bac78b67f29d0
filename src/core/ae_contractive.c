/*
 * ae_contractive.c — the contractive penalty (Rifai et al., 2011) and its
 * gradient:
 *
 *     P = γ · (1/B) Σ_b ‖J_b‖²_F,    J_b = ∂a_C/∂x at row b (h_C × d)
 *
 * Notation: encoder layers l = 0..C, z_l = W_l a_{l-1} + b_l, a_l = f_l(z_l),
 * a_{-1} = x; f', f'' evaluated at z_l (from a_l, see ae_act.h).
 *
 * One-layer encoder (C = 0): J = diag(f'(z)) W, so in closed form
 *
 *     ‖J‖²_F = Σ_j f'(z_j)² s_j,          s_j = Σ_i W_ji²
 *     ∂/∂W_ji  = 2 f'(z_j)² W_ji                    (through s_j)
 *              + 2 f'(z_j) f''(z_j) s_j · x_i          (through z_j)
 *     ∂/∂b_j   = 2 f'(z_j) f''(z_j) s_j
 *
 * The "through z" part is ∂P/∂z_j times ∂z_j/∂(W, b): exactly what the
 * ordinary backward pass does with a delta.  So we only hand the backward
 * pass an extra ∂P/∂z (c_extra) and add the direct W term here.  This form
 * is exact and costs O(B·h + h·d); contractive_samples is ignored.
 *
 * Deeper encoders (C ≥ 1): forward-mode tangents.  For a direction v ∈ ℝ^d
 *
 *     t_{-1} = v,   u_l = W_l t_{l-1},   t_l = f_l'(z_l) ⊙ u_l,   J v = t_C
 *
 * With v running over the d basis vectors e_i (contractive_samples = 0),
 * Σ_i ‖J e_i‖² = ‖J‖²_F exactly.  With k > 0 random v whose coordinates
 * are independent with mean 0 and variance 1, E[v vᵀ] = I and so
 * E‖J v‖² = tr(Jᵀ J) = ‖J‖²_F: (1/k) Σ_s ‖J v_s‖² is an unbiased estimate
 * at k·(the encoder's forward cost) instead of d·.  We draw the
 * coordinates as random signs ±1 (Rademacher) rather than N(0, 1): the
 * estimate stays unbiased, its variance is the smallest of any such
 * distribution (Hutchinson, 1990), and 64 coordinates cost one draw of the
 * generator instead of a logarithm and a sine each — with N(0, 1) the
 * draws alone cost more than the training step on wide inputs.  Per batch
 *
 *     P = c · Σ_b Σ_v ‖t_C‖²,    c = γ/B (exact) or γ/(B·k) (projections)
 *
 * Reverse mode through the tangent recursion, with G_l = ∂P/∂t_l:
 *
 *     G_C      = 2c · t_C
 *     ∂P/∂z_l  = f_l''(z_l) ⊙ Σ_v G_l ⊙ u_l     (t_l depends on z_l via f')
 *     Gu_l     = G_l ⊙ f_l'(z_l)                 (= ∂P/∂u_l)
 *     ∂P/∂W_l += Gu_lᵀ t_{l-1}                   (summed over rows and v)
 *     G_{l-1}  = Gu_l W_l
 *
 * The ∂P/∂z_l terms go to c_extra[l]; the ordinary backward pass adds them
 * to its deltas at layer l, which carries them on to every earlier layer
 * and to the biases.  For linear and ReLU-family layers f'' = 0 (almost
 * everywhere) and that term vanishes; ELU's f'' jumps at 0, like torch's.
 *
 * All tangents of a row sit in consecutive rows of one matrix (B·K × h_l,
 * K = d or k), so each step is one GEMM per layer.  Rows are processed in
 * chunks whose size depends only on the model and K — never on the
 * workspace — so results are the same whatever max_batch was.  The random
 * directions are drawn row by row, direction by direction: each direction
 * takes ⌈d/64⌉ fresh 64-bit draws from rng, coordinate i the sign of bit
 * i mod 64 (set: +1) of draw ⌊i/64⌋.  The same rng state gives the same
 * estimate.
 *
 * Tied weights need no special case: an encoder W is stored once and its
 * decoder use accumulates into the same gradient slots in ae_layer_backward (ae_nn.c).
 */
#include <math.h>
#include <string.h>

#include "ae_act.h"
#include "ae_blas.h"
#include "ae_nn_int.h"
#include "ae_simd.h"

/* floats of tangent scratch per chunk: 16 MB */
#define AE_CONTRACTIVE_BUDGET ((size_t) 1 << 22)

/* ---------------------------------------------------------------- elementwise helpers */

/* out (K×h) = in (K×h) ⊙ f (h), f broadcast over the K rows; out may be in */
static void
ScaleRows(float *out, const float *in, const float *f, int K, int h)
{
	for (int v = 0; v < K; v++)
	{
		const float *src = in + (size_t) v * h;
		float	   *dst = out + (size_t) v * h;
		int			j = 0;

		for (; j + 4 <= h; j += 4)
			AeStore4(dst + j, AeLoad4(src + j) * AeLoad4(f + j));
		for (; j < h; j++)
			dst[j] = src[j] * f[j];
	}
}

/* e (h) = f (h) ⊙ Σ_v G[v] ⊙ U[v] over the K rows of G, U (K×h) */
static void
ScaledRowDots(float *e, const float *f, const float *G, const float *U, int K, int h)
{
	int			j = 0;

	for (; j + 4 <= h; j += 4)
	{
		AeVf4		acc = AE_SPLAT(AeVf4, 0.0f);

		for (int v = 0; v < K; v++)
			acc += AeLoad4(G + (size_t) v * h + j) * AeLoad4(U + (size_t) v * h + j);
		AeStore4(e + j, acc * AeLoad4(f + j));
	}
	for (; j < h; j++)
	{
		float		acc = 0.0f;

		for (int v = 0; v < K; v++)
			acc += G[(size_t) v * h + j] * U[(size_t) v * h + j];
		e[j] = acc * f[j];
	}
}

/* Σ a² over n floats: float vectors over blocks of 16, then double */
static double
SumSquares(const float *a, size_t n)
{
	double		sum = 0.0;
	size_t		i = 0;

	for (; i + 4 * 4 <= n; i += 4 * 4)
	{
		AeVf4		acc = AE_SPLAT(AeVf4, 0.0f);

		for (int k = 0; k < 4; k++)
		{
			AeVf4		x = AeLoad4(a + i + k * 4);

			acc += x * x;
		}
		sum += AeSum4(acc);
	}
	for (; i < n; i++)
		sum += (double) a[i] * a[i];
	return sum;
}

/* y (n) = s·x (n) */
static void
ScaleCopy(float *y, const float *x, float s, size_t n)
{
	AeVf4		vs = AE_SPLAT(AeVf4, s);
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		AeStore4(y + i, AeLoad4(x + i) * vs);
	for (; i < n; i++)
		y[i] = x[i] * s;
}

static void
AddInto(float *y, const float *x, size_t n)
{
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		AeStore4(y + i, AeLoad4(y + i) + AeLoad4(x + i));
	for (; i < n; i++)
		y[i] += x[i];
}

/*
 * n directions of d random signs each into V (n×d), in row order; each
 * direction starts on a fresh draw so that the sequence does not depend on
 * how rows are split into chunks.
 */
static void
DrawSigns(AeRng *rng, float *V, size_t n, int d)
{
	for (size_t v = 0; v < n; v++)
	{
		float	   *row = V + v * d;

		for (int i0 = 0; i0 < d; i0 += 64)
		{
			uint64_t	bits = ae_rng_next(rng);
			int			m = d - i0 < 64 ? d - i0 : 64;

			/* arithmetic, not a branch: the bits are random, so is every branch on them */
			for (int i = 0; i < m; i++)
				row[i0 + i] = (float) ((int) ((bits >> i) & 1) * 2 - 1);
		}
	}
}

/* ---------------------------------------------------------------- sizes */

/* Tangents per row: d exact, k projections; 0 for the one-layer closed form. */
static int
Tangents(const AeModel *model, int samples)
{
	if (model->arch.code_layer == 0)
		return 0;
	return samples > 0 ? samples : model->dims[0];
}

static int
ChunkRows(const AeModel *model, int samples)
{
	int			C = model->arch.code_layer;
	int			K = Tangents(model, samples);
	size_t		sum_h = 0,
				max_h = 0,
				per_row;

	if (K == 0)
		return 1 << 30;			/* the closed form needs no tangents */
	for (int l = 0; l <= C; l++)
	{
		sum_h += model->dims[l + 1];
		if ((size_t) model->dims[l + 1] > max_h)
			max_h = model->dims[l + 1];
	}
	per_row = 2 * sum_h + (size_t) K * (2 * sum_h + 2 * max_h);
	if (samples > 0)
		per_row += (size_t) K * model->dims[0];
	if (per_row >= AE_CONTRACTIVE_BUDGET)
		return 1;
	return (int) (AE_CONTRACTIVE_BUDGET / per_row);
}

size_t
ae_contractive_layout(const AeModel *model, int samples, int max_batch,
					  AeWorkspace *ws, float *base)
{
	int			C = model->arch.code_layer;
	int			d = model->dims[0];
	int			K = Tangents(model, samples);
	int			chunk = ChunkRows(model, samples);
	int			rows = chunk < max_batch ? chunk : max_batch;	/* rows allocated */
	size_t		max_h = 0;
	float	   *cur = base;
	float	   *p;

	if (ws)
	{
		ws->c_tangents = K;
		ws->c_chunk = chunk;
	}
	for (int l = 0; l <= C; l++)
	{
		int			h = model->dims[l + 1];

		if ((size_t) h > max_h)
			max_h = h;
		p = ae_carve(&cur, (size_t) max_batch * h);
		if (ws)
			ws->c_extra[l] = p;
		p = ae_carve(&cur, (size_t) rows * h);
		if (ws)
			ws->c_d1[l] = p;
		p = ae_carve(&cur, (size_t) rows * h);
		if (ws)
			ws->c_d2[l] = p;
		if (K > 0)
		{
			p = ae_carve(&cur, (size_t) rows * K * h);
			if (ws)
				ws->c_U[l] = p;
			p = ae_carve(&cur, (size_t) rows * K * h);
			if (ws)
				ws->c_T[l] = p;
		}
	}
	if (K > 0)
	{
		for (int i = 0; i < 2; i++)
		{
			p = ae_carve(&cur, (size_t) rows * K * max_h);
			if (ws)
				ws->c_G[i] = p;
		}
		if (samples > 0)
		{
			p = ae_carve(&cur, (size_t) rows * K * d);
			if (ws)
				ws->c_V = p;
		}
		else
		{
			p = ae_carve(&cur, (size_t) d * model->dims[1]);
			if (ws)
				ws->c_W0T = p;
			p = ae_carve(&cur, (size_t) d * model->dims[1]);
			if (ws)
				ws->c_acc0 = p;
		}
	}
	else
	{
		/* the closed form: s_j and Σ_b f'(z_bj)² of the single layer */
		p = ae_carve(&cur, (size_t) 2 * model->dims[1]);
		if (ws)
			ws->c_acc0 = p;
	}
	return (size_t) (cur - base);
}

/* One encoder layer (C = 0): the closed form above. */
static double
OneLayer(const AeModel *model, AeWorkspace *ws, float gamma, int B, float *grad)
{
	/* W: (h, d); act[0], d1, d2, extra: (B, h); rowsq, fp2: (h) */
	int			d = model->dims[0];
	int			h = model->dims[1];
	AeActivation act = model->act[0];
	bool		curved = !ae_act_is_piecewise_linear(act);
	const float *W = model->W[0];
	float	   *d1 = ws->c_d1[0];
	float	   *d2 = ws->c_d2[0];
	float	   *extra = ws->c_extra[0];
	float	   *rowsq = ws->c_acc0;
	float	   *fp2 = ws->c_acc0 + h;
	double		c = (double) gamma / B;
	double		total = 0.0;

	for (int j = 0; j < h; j++)
	{
		double		s = 0.0;

		for (int i = 0; i < d; i++)
			s += (double) W[(size_t) j * d + i] * W[(size_t) j * d + i];
		rowsq[j] = (float) s;
		fp2[j] = 0.0f;
	}
	ae_act_derivs(act, ws->act[0], d1, curved ? d2 : NULL, (size_t) B * h);
	for (int b = 0; b < B; b++)
		for (int j = 0; j < h; j++)
		{
			float		f1 = d1[(size_t) b * h + j];

			fp2[j] += f1 * f1;
		}
	for (int j = 0; j < h; j++)
		total += (double) fp2[j] * rowsq[j];
	if (grad == NULL)
		return c * total;

	if (curved)
	{
		float		two_c = (float) (2.0 * c);

		for (int b = 0; b < B; b++)
			for (int j = 0; j < h; j++)
			{
				size_t		o = (size_t) b * h + j;

				extra[o] = two_c * d1[o] * d2[o] * rowsq[j];
			}
	}
	else
		memset(extra, 0, sizeof(float) * B * h);
	{
		float	   *dW = grad + model->W_off[0];

		for (int j = 0; j < h; j++)
		{
			float		scale = (float) (2.0 * c * fp2[j]);

			for (int i = 0; i < d; i++)
				dW[(size_t) j * d + i] += scale * W[(size_t) j * d + i];
		}
	}
	return c * total;
}

/*
 * Tangent forward of rows [r0, r0 + R) for a deep encoder: fills c_d1/c_d2,
 * c_U/c_T (U_0 stays implicit as W_0ᵀ in the exact case) and returns
 * Σ‖t_C‖² over the chunk.
 */
static double
TangentForward(const AeModel *model, AeWorkspace *ws, bool exact, int r0, int R, AeRng *rng)
{
	int			C = model->arch.code_layer;
	int			d = model->dims[0];
	int			K = ws->c_tangents;
	size_t		RK = (size_t) R * K;

	for (int l = 0; l <= C; l++)
	{
		int			h = model->dims[l + 1];
		bool		curved = !ae_act_is_piecewise_linear(model->act[l]);

		ae_act_derivs(model->act[l], ws->act[l] + (size_t) r0 * h, ws->c_d1[l],
					  curved ? ws->c_d2[l] : NULL, (size_t) R * h);
	}

	/* layer 0: U_0 (R·K, h0) = V W_0ᵀ, or W_0ᵀ repeated for the basis directions */
	{
		int			h = model->dims[1];
		const float *d1 = ws->c_d1[0];
		float	   *T = ws->c_T[0];

		if (exact)
		{
			/* row r, direction e_i: t = f'(z_0) ⊙ (column i of W_0) */
			for (int r = 0; r < R; r++)
				ScaleRows(T + (size_t) r * K * h, ws->c_W0T, d1 + (size_t) r * h, K, h);
		}
		else
		{
			float	   *U = ws->c_U[0];

			DrawSigns(rng, ws->c_V, RK, d);
			ae_gemm(false, true, (int) RK, h, d, 1.0f, ws->c_V, d, model->W[0], d, 0.0f, U, h);
			for (int r = 0; r < R; r++)
				ScaleRows(T + (size_t) r * K * h, U + (size_t) r * K * h, d1 + (size_t) r * h, K, h);
		}
	}

	/* layers 1..C: U_l (R·K, h) = T_{l-1} W_lᵀ;  T_l = f'(z_l) ⊙ U_l */
	for (int l = 1; l <= C; l++)
	{
		int			n_in = model->dims[l];
		int			h = model->dims[l + 1];
		float	   *U = ws->c_U[l];
		float	   *T = ws->c_T[l];
		const float *d1 = ws->c_d1[l];

		ae_gemm(false, true, (int) RK, h, n_in, 1.0f, ws->c_T[l - 1], n_in,
				model->W[l], n_in, 0.0f, U, h);
		for (int r = 0; r < R; r++)
			ScaleRows(T + (size_t) r * K * h, U + (size_t) r * K * h, d1 + (size_t) r * h, K, h);
	}
	return SumSquares(ws->c_T[C], RK * model->dims[C + 1]);
}

/*
 * Reverse pass through the tangents of rows [r0, r0 + R): adds ∂P/∂W_l to
 * grad (to c_acc0 for W_0 in the exact case) and writes c_extra rows.
 */
static void
TangentBackward(const AeModel *model, AeWorkspace *ws, bool exact, double c,
				int r0, int R, float *grad)
{
	int			C = model->arch.code_layer;
	int			d = model->dims[0];
	int			K = ws->c_tangents;
	size_t		RK = (size_t) R * K;
	float		two_c = (float) (2.0 * c);
	float	   *G = ws->c_G[0];
	float	   *Gnext = ws->c_G[1];

	/* G_C (R·K, h_C) = 2c t_C */
	ScaleCopy(G, ws->c_T[C], two_c, RK * model->dims[C + 1]);

	for (int l = C; l >= 0; l--)
	{
		int			h = model->dims[l + 1];
		int			n_in = model->dims[l];
		const float *d1 = ws->c_d1[l];
		const float *d2 = ws->c_d2[l];
		float	   *extra = ws->c_extra[l] + (size_t) r0 * h;
		bool		implicit_U = exact && l == 0;	/* U_0 rows are W_0ᵀ rows */

		/* extra (R, h) = f'' ⊙ Σ_v G ⊙ U */
		if (ae_act_is_piecewise_linear(model->act[l]))
			memset(extra, 0, sizeof(float) * R * h);
		else
			for (int r = 0; r < R; r++)
				ScaledRowDots(extra + (size_t) r * h, d2 + (size_t) r * h,
							  G + (size_t) r * K * h,
							  implicit_U ? ws->c_W0T : ws->c_U[l] + (size_t) r * K * h, K, h);

		/* Gu = G ⊙ f'(z_l), in place */
		for (int r = 0; r < R; r++)
			ScaleRows(G + (size_t) r * K * h, G + (size_t) r * K * h, d1 + (size_t) r * h, K, h);

		if (l > 0)
		{
			/* dW_l (h, n_in) += Guᵀ T_{l-1};  G_{l-1} (R·K, n_in) = Gu W_l */
			float	   *swap;

			ae_gemm(true, false, h, n_in, (int) RK, 1.0f, G, h, ws->c_T[l - 1], n_in,
					1.0f, grad + model->W_off[l], n_in);
			ae_gemm(false, false, (int) RK, n_in, h, 1.0f, G, h, model->W[l], n_in,
					0.0f, Gnext, n_in);
			swap = G;
			G = Gnext;
			Gnext = swap;
		}
		else if (exact)
		{
			/* acc0 (d, h0) += Σ_r Gu[r]: the basis tangent e_i picks column i of W_0 */
			for (int r = 0; r < R; r++)
				AddInto(ws->c_acc0, G + (size_t) r * K * h, (size_t) d * h);
		}
		else
		{
			/* dW_0 (h0, d) += Guᵀ V */
			ae_gemm(true, false, h, d, (int) RK, 1.0f, G, h, ws->c_V, d,
					1.0f, grad + model->W_off[0], d);
		}
	}
}

double
ae_contractive(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			   const float *x, int B, float *grad, AeRng *rng)
{
	int			d = model->dims[0];
	int			h0 = model->dims[1];
	bool		exact = obj->contractive_samples == 0;
	double		c,
				total = 0.0;

	(void) x;					/* the tangents need only W and the activations */
	if (model->arch.code_layer == 0)
		return OneLayer(model, ws, obj->contractive, B, grad);

	c = exact ? (double) obj->contractive / B
		: (double) obj->contractive / ((double) B * obj->contractive_samples);
	if (exact)
	{
		/* W_0ᵀ (d, h0): row i is the first tangent of direction e_i */
		const float *W0 = model->W[0];

		for (int j = 0; j < h0; j++)
			for (int i = 0; i < d; i++)
				ws->c_W0T[(size_t) i * h0 + j] = W0[(size_t) j * d + i];
		if (grad)
			memset(ws->c_acc0, 0, sizeof(float) * d * h0);
	}
	for (int r0 = 0; r0 < B; r0 += ws->c_chunk)
	{
		int			R = B - r0 < ws->c_chunk ? B - r0 : ws->c_chunk;

		total += TangentForward(model, ws, exact, r0, R, rng);
		if (grad)
			TangentBackward(model, ws, exact, c, r0, R, grad);
	}
	if (grad && exact)
	{
		float	   *dW = grad + model->W_off[0];

		for (int j = 0; j < h0; j++)
			for (int i = 0; i < d; i++)
				dW[(size_t) j * d + i] += ws->c_acc0[(size_t) i * h0 + j];
	}
	return c * total;
}
