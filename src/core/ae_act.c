/*
 * ae_act.c — activation functions forward, first and second derivatives,
 * with PyTorch's definitions (LeakyReLU slope 0.01, ELU alpha 1).
 *
 * Shapes: B rows × n units, row-major; bias and db have n entries.
 *
 * The forward and backward passes are the elementwise half of training and
 * run once per layer per batch, so they work on the vectors of ae_simd.h;
 * libm's expf and tanhf are calls the compiler cannot vectorise (a scalar
 * tanhf alone costs more than all the GEMMs of a small network).
 *
 * exp and expm1 use the classic single-precision design (range reduction
 * by ln 2 with a two-part constant, Cephes' degree-5 minimax polynomial on
 * the remainder); tanh and ELU are built on expm1, sigmoid on exp.  All are
 * accurate to a few ulp (test_nn measures them against double libm).  NaN
 * propagates through every function, so a diverging network still
 * produces a non-finite loss.
 */
#include "ae_act.h"

#include <math.h>

#include "ae_simd.h"

/*
 * eˣ.  x = n ln2 + r with |r| ≤ ln2/2, eʳ by a polynomial, 2ⁿ built in the
 * exponent bits as 2^{n/2} · 2^{n - n/2} so that results down to the
 * denormal range (n < -126) come out right: sigmoid(-100) is 3.7e-44, not
 * a clamped 1e-38, and BCE's log of it is clamped at -100 like torch's.
 * The clamps are selects whose comparisons are false for NaN, so NaN
 * passes through.
 */
static inline AeVf
ExpV(AeVf x)
{
	const float shifter = 0x1.8p23f;	/* adding it rounds to an integer */
	AeVf		t,
				n,
				r,
				p;
	AeVi		ni,
				half;

	x = SelectV(x > VF(88.5f), VF(88.5f), x);
	x = SelectV(x < VF(-104.0f), VF(-104.0f), x);
	t = x * VF(1.44269504088896341f) + VF(shifter);
	n = t - VF(shifter);
	r = x - n * VF(0.693359375f);
	r = r - n * VF(-2.12194440e-4f);
	p = VF(1.9875691500e-4f);
	p = p * r + VF(1.3981999507e-3f);
	p = p * r + VF(8.3334519073e-3f);
	p = p * r + VF(4.1665795894e-2f);
	p = p * r + VF(1.6666665459e-1f);
	p = p * r + VF(5.0000001201e-1f);
	p = p * r * r + r + VF(1.0f);
	/* the low bits of t hold n */
	ni = (AeVi) t - (AeVi) VF(shifter);
	half = ni >> 1;
	return p * (AeVf) ((half + VI(127)) << 23) * (AeVf) ((ni - half + VI(127)) << 23);
}

/*
 * eˣ - 1 for x ≤ 0 (larger x are treated as 0).  With x = n ln2 + r and
 * eʳ = 1 + q, q = r + r² P(r): eˣ - 1 = 2ⁿ q + (2ⁿ - 1).  Both terms are
 * computed without cancelling, so small |x| keep full relative accuracy,
 * which 1 - eˣ would lose.
 */
static inline AeVf
ExpM1NegV(AeVf x)
{
	const float shifter = 0x1.8p23f;
	AeVf		t,
				n,
				r,
				p,
				scale;

	x = SelectV(x > VF(0.0f), VF(0.0f), x);
	x = SelectV(x < VF(-87.0f), VF(-87.0f), x);
	t = x * VF(1.44269504088896341f) + VF(shifter);
	n = t - VF(shifter);
	r = x - n * VF(0.693359375f);
	r = r - n * VF(-2.12194440e-4f);
	p = VF(1.9875691500e-4f);
	p = p * r + VF(1.3981999507e-3f);
	p = p * r + VF(8.3334519073e-3f);
	p = p * r + VF(4.1665795894e-2f);
	p = p * r + VF(1.6666665459e-1f);
	p = p * r + VF(5.0000001201e-1f);
	p = p * r * r + r;
	scale = (AeVf) (((AeVi) t - (AeVi) VF(shifter) + VI(127)) << 23);
	return scale * p + (scale - VF(1.0f));
}

static inline AeVf
TanhV(AeVf x)
{
	/*
	 * tanh|x| = (1 - e^{-2|x|}) / (1 + e^{-2|x|}) = -m / (2 + m) with
	 * m = e^{-2|x|} - 1 ∈ (-1, 0]: no overflow, no cancellation near 0,
	 * and it saturates to exactly 1 for large |x|.
	 */
	AeVf		ax = AbsV(x);
	AeVf		m = ExpM1NegV(VF(-2.0f) * ax);

	return CopySignV(-m / (VF(2.0f) + m), x);
}

static inline AeVf
SigmoidV(AeVf x)
{
	/* e^{-|x|} never overflows; for x < 0, σ(x) = e^{x} / (1 + e^{x}) */
	AeVf		e = ExpV(-AbsV(x));
	AeVf		s = VF(1.0f) / (VF(1.0f) + e);

	return SelectV(x < VF(0.0f), e * s, s);
}

static inline AeVf
ReluV(AeVf x)
{
	/* tested as x < 0, not x > 0, so that NaN stays NaN as in torch */
	return SelectV(x < VF(0.0f), VF(0.0f), x);
}

static inline AeVf
LeakyReluV(AeVf x)
{
	return SelectV(x > VF(0.0f), x, VF(AE_LEAKY_SLOPE) * x);
}

static inline AeVf
EluV(AeVf x)
{
	return SelectV(x > VF(0.0f), x, VF(AE_ELU_ALPHA) * ExpM1NegV(x));
}

static inline AeVf
LinearV(AeVf x)
{
	return x;
}

/* ---------------------------------------------------------------- forward */

/*
 * za ← fn(za + bias) row by row, AE_VL units at a time; the last partial
 * vector of a row is padded with zeros and only its real lanes stored.
 */
#define FORWARD_ROWS(fn) \
	for (int r = 0; r < B; r++) \
	{ \
		float	   *row = za + (size_t) r * n; \
		int			j = 0; \
		for (; j + AE_VL <= n; j += AE_VL) \
			StoreV(row + j, fn(LoadV(row + j) + LoadV(bias + j))); \
		if (j < n) \
			StorePartV(row + j, fn(LoadPartV(row + j, n - j) + LoadPartV(bias + j, n - j)), n - j); \
	}

void
ae_act_forward(AeActivation act, float *za, const float *bias, int B, int n)
{
	/* za: (B, n) in: z without bias, out: a = f(z + bias) */
	switch (act)
	{
		case AE_ACT_LINEAR:
			FORWARD_ROWS(LinearV);
			break;
		case AE_ACT_SIGMOID:
			FORWARD_ROWS(SigmoidV);
			break;
		case AE_ACT_TANH:
			FORWARD_ROWS(TanhV);
			break;
		case AE_ACT_RELU:
			FORWARD_ROWS(ReluV);
			break;
		case AE_ACT_LEAKY_RELU:
			FORWARD_ROWS(LeakyReluV);
			break;
		case AE_ACT_ELU:
			FORWARD_ROWS(EluV);
			break;
	}
}

/* ---------------------------------------------------------------- backward */

/* ∂loss/∂z = ∂loss/∂a ⊙ f'(z), f' from a (see ae_act.h) */

static inline AeVf
LinearBackV(AeVf d, AeVf a)
{
	(void) a;
	return d;
}

static inline AeVf
SigmoidBackV(AeVf d, AeVf a)
{
	return d * a * (VF(1.0f) - a);
}

static inline AeVf
TanhBackV(AeVf d, AeVf a)
{
	return d * (VF(1.0f) - a * a);
}

static inline AeVf
ReluBackV(AeVf d, AeVf a)
{
	/* a > 0 exactly when z > 0; the derivative at 0 is 0, as in torch */
	return SelectV(a > VF(0.0f), d, VF(0.0f));
}

static inline AeVf
LeakyReluBackV(AeVf d, AeVf a)
{
	return SelectV(a > VF(0.0f), d, VF(AE_LEAKY_SLOPE) * d);
}

static inline AeVf
EluBackV(AeVf d, AeVf a)
{
	/* below zero f'(z) = α eᶻ = a + α */
	return SelectV(a > VF(0.0f), d, d * (a + VF(AE_ELU_ALPHA)));
}

/* delta ← fn(delta, a) row by row, adding each row to db when db is set. */
#define BACKWARD_ROWS(fn) \
	for (int r = 0; r < B; r++) \
	{ \
		float	   *dr = delta + (size_t) r * n; \
		const float *ar = a + (size_t) r * n; \
		int			j = 0; \
		for (; j + AE_VL <= n; j += AE_VL) \
		{ \
			AeVf		g = fn(LoadV(dr + j), LoadV(ar + j)); \
			StoreV(dr + j, g); \
			if (db) \
				StoreV(db + j, LoadV(db + j) + g); \
		} \
		if (j < n) \
		{ \
			int			k = n - j; \
			AeVf		g = fn(LoadPartV(dr + j, k), LoadPartV(ar + j, k)); \
			StorePartV(dr + j, g, k); \
			if (db) \
				StorePartV(db + j, LoadPartV(db + j, k) + g, k); \
		} \
	}

void
ae_act_backward(AeActivation act, float *delta, const float *a, float *db, int B, int n)
{
	/* delta: (B, n) in: ∂loss/∂a, out: ∂loss/∂z;  a: (B, n);  db: (n) += Σ_b ∂loss/∂z */
	switch (act)
	{
		case AE_ACT_LINEAR:
			if (db)
				BACKWARD_ROWS(LinearBackV);
			break;
		case AE_ACT_SIGMOID:
			BACKWARD_ROWS(SigmoidBackV);
			break;
		case AE_ACT_TANH:
			BACKWARD_ROWS(TanhBackV);
			break;
		case AE_ACT_RELU:
			BACKWARD_ROWS(ReluBackV);
			break;
		case AE_ACT_LEAKY_RELU:
			BACKWARD_ROWS(LeakyReluBackV);
			break;
		case AE_ACT_ELU:
			BACKWARD_ROWS(EluBackV);
			break;
	}
}

/* ---------------------------------------------------------------- derivatives */

void
ae_act_derivs(AeActivation act, const float *a, float *d1, float *d2, size_t count)
{
	/* a, d1, d2: (count); used by the contractive penalty, off the main path */
	switch (act)
	{
		case AE_ACT_LINEAR:
			for (size_t i = 0; i < count; i++)
				d1[i] = 1.0f;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_SIGMOID:
			/* f' = a(1-a), f'' = f'(1-2a) */
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] * (1.0f - a[i]);
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = d1[i] * (1.0f - 2.0f * a[i]);
			break;
		case AE_ACT_TANH:
			/* f' = 1-a², f'' = -2a f' */
			for (size_t i = 0; i < count; i++)
				d1[i] = 1.0f - a[i] * a[i];
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = -2.0f * a[i] * d1[i];
			break;
		case AE_ACT_RELU:
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : 0.0f;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_LEAKY_RELU:
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : AE_LEAKY_SLOPE;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = 0.0f;
			break;
		case AE_ACT_ELU:
			/* below zero f' = f'' = α eᶻ = a + α; above, f' = 1, f'' = 0 */
			for (size_t i = 0; i < count; i++)
				d1[i] = a[i] > 0.0f ? 1.0f : a[i] + AE_ELU_ALPHA;
			if (d2)
				for (size_t i = 0; i < count; i++)
					d2[i] = a[i] > 0.0f ? 0.0f : a[i] + AE_ELU_ALPHA;
			break;
	}
}
