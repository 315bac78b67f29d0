/*
 * ae_act_kernels.h — the activation kernels, written once for one vector
 * width.  ae_act.c includes this file once per width it compiles (a C
 * template); nothing else may include it.
 *
 * The includer defines:
 *   KVL       floats per vector
 *   KATTR     attributes of every function here (a target ISA, or nothing)
 *   K(name)   name with the width's suffix
 * and has instantiated AE_SIMD_WIDTH(KVL, KATTR) (ae_simd.h), whose types
 * and helpers K(AeVf), K(AeLoad), ... the kernels use.
 *
 * Shapes: B rows × n units, row-major; bias and db have n entries.
 * Vectors never cross a function boundary that is not inlined, so no
 * calling convention depends on the width.
 */

/* the width's vector types and helpers, from AE_SIMD_WIDTH (ae_simd.h) */
#define Vf			K(AeVf)
#define Vi			K(AeVi)

#define KFN			KATTR static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- exp, expm1 */

/*
 * x = n ln2 + r, |r| ≤ ln2/2: adding 1.5·2²³ rounds x·log2(e) to the
 * integer n, which then sits in the low mantissa bits; ln2 is split in a
 * part with few bits (so n·ln2_hi is exact) and the rest.  Returns r and
 * sets *n_bits.  eʳ = 1 + r + r²·P(r), P from Cephes' expf.
 */
KFN Vf
K(ReduceLn2) (Vf x, Vi *n_bits)
{
	const float shifter = 0x1.8p23f;
	Vf			t = x * 1.44269504088896341f + shifter;
	Vf			n = t - shifter;

	*n_bits = (Vi) t - (Vi) ((Vf) {0} + shifter);
	return (x - n * 0.693359375f) - n * -2.12194440e-4f;
}

KFN Vf
K(ExpPoly) (Vf r)
{
	/* (eʳ - 1 - r) / r² */
	Vf			p = (Vf) {0} + 1.9875691500e-4f;

	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	return p;
}

/*
 * eˣ, with 2ⁿ applied as 2^{n/2}·2^{n-n/2} so that results down in the
 * denormal range come out right (sigmoid(-100) is 3.7e-44, not 1e-38, and
 * BCE's log of it is clamped at -100 like torch's).  The clamps are
 * selects whose comparisons are false for NaN, so NaN passes through.
 */
KFN Vf
K(Exp) (Vf x)
{
	Vi			n,
				half;
	Vf			r,
				p;

	x = K(AeSelect) (x > 88.5f, (Vf) {0} + 88.5f, x);
	x = K(AeSelect) (x < -104.0f, (Vf) {0} - 104.0f, x);
	r = K(ReduceLn2) (x, &n);
	p = K(ExpPoly) (r) * r * r + r + 1.0f;
	half = n >> 1;
	return p * (Vf) ((half + 127) << 23) * (Vf) ((n - half + 127) << 23);
}

/*
 * eˣ - 1 for x ≤ 0 (larger x count as 0).  With eʳ = 1 + q:
 * eˣ - 1 = 2ⁿ q + (2ⁿ - 1), two terms that do not cancel, so small |x|
 * keep full relative accuracy (1 - eˣ would lose it).
 */
KFN Vf
K(ExpM1Neg) (Vf x)
{
	Vi			n;
	Vf			r,
				q,
				scale;

	x = K(AeSelect) (x > 0.0f, (Vf) {0}, x);
	x = K(AeSelect) (x < -87.0f, (Vf) {0} - 87.0f, x);
	r = K(ReduceLn2) (x, &n);
	q = K(ExpPoly) (r) * r * r + r;
	scale = (Vf) ((n + 127) << 23);
	return scale * q + (scale - 1.0f);
}

/* ---------------------------------------------------------------- activations */

KFN Vf
K(Linear) (Vf x)
{
	return x;
}

KFN Vf
K(Sigmoid) (Vf x)
{
	/* e^{-|x|} never overflows; for x < 0, σ(x) = e^{x} / (1 + e^{x}) */
	Vf			e = K(Exp) ((Vf) ((Vi) x | (int32_t) 0x80000000));
	Vf			s = 1.0f / (1.0f + e);

	return K(AeSelect) (x < 0.0f, e * s, s);
}

KFN Vf
K(Tanh) (Vf x)
{
	/*
	 * tanh|x| = (1 - e^{-2|x|}) / (1 + e^{-2|x|}) = -m / (2 + m) with
	 * m = e^{-2|x|} - 1 ∈ (-1, 0]: no overflow, no cancellation near 0,
	 * and exactly 1 for large |x|.
	 */
	Vf			m = K(ExpM1Neg) ((Vf) ((Vi) (x + x) | (int32_t) 0x80000000));

	return K(AeCopySign) (-m / (2.0f + m), x);
}

KFN Vf
K(Relu) (Vf x)
{
	/* tested as x < 0, not x > 0, so that NaN stays NaN as in torch */
	return K(AeSelect) (x < 0.0f, (Vf) {0}, x);
}

KFN Vf
K(LeakyRelu) (Vf x)
{
	return K(AeSelect) (x > 0.0f, x, x * AE_LEAKY_SLOPE);
}

KFN Vf
K(Elu) (Vf x)
{
	return K(AeSelect) (x > 0.0f, x, AE_ELU_ALPHA * K(ExpM1Neg) (x));
}

/* ∂loss/∂z = ∂loss/∂a ⊙ f'(z), f' from a (see ae_act.h) */

KFN Vf
K(LinearBack) (Vf d, Vf a)
{
	(void) a;
	return d;
}

KFN Vf
K(SigmoidBack) (Vf d, Vf a)
{
	return d * a * (1.0f - a);
}

KFN Vf
K(TanhBack) (Vf d, Vf a)
{
	return d * (1.0f - a * a);
}

KFN Vf
K(ReluBack) (Vf d, Vf a)
{
	/* a > 0 exactly when z > 0; the derivative at 0 is 0, as in torch */
	return K(AeSelect) (a > 0.0f, d, (Vf) {0});
}

KFN Vf
K(LeakyReluBack) (Vf d, Vf a)
{
	return K(AeSelect) (a > 0.0f, d, d * AE_LEAKY_SLOPE);
}

KFN Vf
K(EluBack) (Vf d, Vf a)
{
	/* below zero f'(z) = α eᶻ = a + α */
	return K(AeSelect) (a > 0.0f, d, d * (a + AE_ELU_ALPHA));
}

/* ---------------------------------------------------------------- layer passes */

/*
 * za ← fn(za + bias) row by row, KVL units at a time; the last partial
 * vector of a row is padded with zeros and only its real lanes stored.
 */
#define FORWARD_ROWS(fn) \
	for (int r = 0; r < B; r++) \
	{ \
		float	   *row = za + (size_t) r * n; \
		int			j = 0; \
		for (; j + KVL <= n; j += KVL) \
			K(AeStore) (row + j, fn(K(AeLoad) (row + j) + K(AeLoad) (bias + j))); \
		if (j < n) \
			K(AeStorePart) (row + j, fn(K(AeLoadPart) (row + j, n - j) + \
									  K(AeLoadPart) (bias + j, n - j)), n - j); \
	}

KATTR static void
K(Forward) (AeActivation act, float *za, const float *bias, int B, int n)
{
	/* za: (B, n) in: z without bias, out: a = f(z + bias) */
	switch (act)
	{
		case AE_ACT_LINEAR:
			FORWARD_ROWS(K(Linear));
			break;
		case AE_ACT_SIGMOID:
			FORWARD_ROWS(K(Sigmoid));
			break;
		case AE_ACT_TANH:
			FORWARD_ROWS(K(Tanh));
			break;
		case AE_ACT_RELU:
			FORWARD_ROWS(K(Relu));
			break;
		case AE_ACT_LEAKY_RELU:
			FORWARD_ROWS(K(LeakyRelu));
			break;
		case AE_ACT_ELU:
			FORWARD_ROWS(K(Elu));
			break;
	}
}

/* delta ← fn(delta, a) row by row, adding each row to db when db is set. */
#define BACKWARD_ROWS(fn) \
	for (int r = 0; r < B; r++) \
	{ \
		float	   *dr = delta + (size_t) r * n; \
		const float *ar = a + (size_t) r * n; \
		int			j = 0; \
		for (; j + KVL <= n; j += KVL) \
		{ \
			Vf			g = fn(K(AeLoad) (dr + j), K(AeLoad) (ar + j)); \
			K(AeStore) (dr + j, g); \
			if (db) \
				K(AeStore) (db + j, K(AeLoad) (db + j) + g); \
		} \
		if (j < n) \
		{ \
			int			k = n - j; \
			Vf			g = fn(K(AeLoadPart) (dr + j, k), K(AeLoadPart) (ar + j, k)); \
			K(AeStorePart) (dr + j, g, k); \
			if (db) \
				K(AeStorePart) (db + j, K(AeLoadPart) (db + j, k) + g, k); \
		} \
	}

KATTR static void
K(Backward) (AeActivation act, float *delta, const float *a, float *db, int B, int n)
{
	/* delta: (B, n) in: ∂loss/∂a, out: ∂loss/∂z;  a: (B, n);  db: (n) += Σ_b ∂loss/∂z */
	switch (act)
	{
		case AE_ACT_LINEAR:
			if (db)
				BACKWARD_ROWS(K(LinearBack));
			break;
		case AE_ACT_SIGMOID:
			BACKWARD_ROWS(K(SigmoidBack));
			break;
		case AE_ACT_TANH:
			BACKWARD_ROWS(K(TanhBack));
			break;
		case AE_ACT_RELU:
			BACKWARD_ROWS(K(ReluBack));
			break;
		case AE_ACT_LEAKY_RELU:
			BACKWARD_ROWS(K(LeakyReluBack));
			break;
		case AE_ACT_ELU:
			BACKWARD_ROWS(K(EluBack));
			break;
	}
}

/*
 * e[k] = exp(z[k] - m) for k < n (e may be z, or NULL for the sum only);
 * returns Σ_k e[k], the vector lanes' partial sums added in double at the
 * end.  The exponentials of a softmax group (ae_groups.c).
 */
KATTR static double
K(ExpShift) (const float *z, int n, float m, float *e)
{
	Vf			acc = {0};
	double		s = 0.0;
	int			k = 0;

	for (; k + KVL <= n; k += KVL)
	{
		Vf			v = K(Exp) (K(AeLoad) (z + k) - m);

		if (e)
			K(AeStore) (e + k, v);
		acc += v;
	}
	if (k < n)
	{
		Vf			v = K(Exp) (K(AeLoadPart) (z + k, n - k) - m);

		if (e)
			K(AeStorePart) (e + k, v, n - k);
		for (int i = 0; i < n - k; i++)
			s += v[i];
	}
	for (int i = 0; i < KVL; i++)
		s += acc[i];
	return s;
}

#undef FORWARD_ROWS
#undef BACKWARD_ROWS
#undef KFN
#undef Vf
#undef Vi
