/*
 * ae_infer.c — one-row inference through packed (transposed) weights.
 *
 * Shapes: n_in = dims[l], n_out = dims[l+1]; P_l is n_in × n_out row-major.
 *
 * A layer computes z[j] = Σ_i in[i] · P_l[i][j] for all j at once: for a
 * block of output units, accumulators stay in vector registers while the
 * loop walks the inputs, broadcasting in[i] and adding in[i] times a
 * contiguous stretch of row i of P_l, with a few independent accumulators
 * per output (see DEFINE_LAYER_KERNEL), so the two agree with the reference
 * GEMM to float rounding.  The bias and the activation are then applied by
 * ae_act_forward(), exactly as the batched path does.
 */
#include "ae_infer.h"

#include <math.h>
#include <string.h>

#include "ae_act.h"
#include "ae_simd.h"
#include "ae_groups.h"

size_t
ae_infer_packed_size(const AeModel *model)
{
	size_t		n = 0;

	for (int l = 0; l < model->n_layers; l++)
		n += (size_t) model->dims[l] * model->dims[l + 1];
	return n;
}

void
ae_infer_pack(const AeModel *model, float *packed)
{
	float	   *P = packed;

	for (int l = 0; l < model->n_layers; l++)
	{
		int			n_in = model->dims[l];
		int			n_out = model->dims[l + 1];
		const float *W = model->W[l];

		if (model->W_tied[l])
		{
			/* the twin's W is stored n_out(twin) × n_in(twin) = n_in × n_out here */
			memcpy(P, W, sizeof(float) * (size_t) n_in * n_out);
		}
		else
		{
			/* W: (n_out, n_in) → P: (n_in, n_out) */
			for (int j = 0; j < n_out; j++)
				for (int i = 0; i < n_in; i++)
					P[(size_t) i * n_out + j] = W[(size_t) j * n_in + i];
		}
		P += (size_t) n_in * n_out;
	}
}

size_t
ae_infer_scratch_size(const AeModel *model)
{
	return 2 * (size_t) ae_arch_widest(&model->arch);
}

/* ---------------------------------------------------------------- kernel */

#if defined(__GNUC__) || defined(__clang__)
#define AE_HAVE_VECTOR_EXT 1
#define AE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define AE_ALWAYS_INLINE inline
#endif

/*
 * The layer loop, shared by every variant: KERNEL(in, n_in, P, n_out, z)
 * computes z = in · P, then ae_act_forward adds the bias and applies the
 * activation, as the batched path does.
 */
#define ROW_BODY(KERNEL) \
	do { \
		const float *P = packed; \
		const float *cur = in; \
		size_t		half = ae_infer_scratch_size(model) / 2; \
		\
		for (int l = 0; l < from; l++) \
			P += (size_t) model->dims[l] * model->dims[l + 1]; \
		for (int l = from; l < to; l++) \
		{ \
			int			n_in = model->dims[l]; \
			int			n_out = model->dims[l + 1]; \
			float	   *dst = l == to - 1 ? out : scratch + ((l - from) % 2) * half; \
			\
			if (l == 0 && model->groups) \
			{ \
				/* plain inputs through the kernel, groups by row lookups */ \
				if (model->groups->n_plain > 0) \
					KERNEL(cur, model->groups->n_plain, P, n_out, dst); \
				else \
					memset(dst, 0, sizeof(float) * n_out); \
				ae_groups_first_row(model->groups, P, cur, n_out, dst); \
			} \
			else \
				KERNEL(cur, n_in, P, n_out, dst); \
			ae_act_forward(model->act[l], dst, model->b[l], 1, n_out); \
			P += (size_t) n_in * n_out; \
			cur = dst; \
		} \
	} while (0)

typedef void (*RowFn) (const AeModel *, const float *, int, int, const float *, float *, float *);

#ifdef AE_HAVE_VECTOR_EXT

/*
 * z (n_out) = in (n_in) · P (n_in × n_out) with vectors of LANES floats:
 * blocks of 4·LANES outputs, then blocks of LANES, then the last few outputs
 * one by one.  A multiply-add waits for the previous one into the same
 * accumulator (4 cycles or so), so each block keeps several independent
 * chains: even and odd inputs into separate accumulators (4·LANES blocks),
 * inputs by residue mod 4 (LANES blocks), added at the end.  So the sum over
 * inputs is in a different order from the GEMM's, equal up to rounding.
 */
#define DEFINE_LAYER_KERNEL(NAME, ATTR, LANES) \
ATTR static AE_ALWAYS_INLINE void \
NAME(const float *restrict in, int n_in, const float *restrict P, int n_out, \
	 float *restrict z) \
{ \
	int			j = 0; \
	\
	for (; j + 4 * (LANES) <= n_out; j += 4 * (LANES)) \
	{ \
		AeVf##LANES	a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}; \
		AeVf##LANES	b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}; \
		const float *p = P + j; \
		int			i = 0; \
		\
		for (; i + 2 <= n_in; i += 2, p += 2 * (size_t) n_out) \
		{ \
			float		x = in[i]; \
			float		y = in[i + 1]; \
			const float *q = p + n_out; \
			\
			a0 += x * AeLoad##LANES(p); \
			a1 += x * AeLoad##LANES(p + (LANES)); \
			a2 += x * AeLoad##LANES(p + 2 * (LANES)); \
			a3 += x * AeLoad##LANES(p + 3 * (LANES)); \
			b0 += y * AeLoad##LANES(q); \
			b1 += y * AeLoad##LANES(q + (LANES)); \
			b2 += y * AeLoad##LANES(q + 2 * (LANES)); \
			b3 += y * AeLoad##LANES(q + 3 * (LANES)); \
		} \
		if (i < n_in) \
		{ \
			float		x = in[i]; \
			\
			a0 += x * AeLoad##LANES(p); \
			a1 += x * AeLoad##LANES(p + (LANES)); \
			a2 += x * AeLoad##LANES(p + 2 * (LANES)); \
			a3 += x * AeLoad##LANES(p + 3 * (LANES)); \
		} \
		AeStore##LANES(z + j, a0 + b0); \
		AeStore##LANES(z + j + (LANES), a1 + b1); \
		AeStore##LANES(z + j + 2 * (LANES), a2 + b2); \
		AeStore##LANES(z + j + 3 * (LANES), a3 + b3); \
	} \
	for (; j + (LANES) <= n_out; j += (LANES)) \
	{ \
		AeVf##LANES	a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}; \
		const float *p = P + j; \
		size_t		stride = n_out; \
		int			i = 0; \
		\
		for (; i + 4 <= n_in; i += 4, p += 4 * stride) \
		{ \
			a0 += in[i] * AeLoad##LANES(p); \
			a1 += in[i + 1] * AeLoad##LANES(p + stride); \
			a2 += in[i + 2] * AeLoad##LANES(p + 2 * stride); \
			a3 += in[i + 3] * AeLoad##LANES(p + 3 * stride); \
		} \
		for (; i < n_in; i++, p += stride) \
			a0 += in[i] * AeLoad##LANES(p); \
		AeStore##LANES(z + j, (a0 + a1) + (a2 + a3)); \
	} \
	for (; j < n_out; j++) \
	{ \
		float		a = 0.0f; \
		const float *p = P + j; \
		\
		for (int i = 0; i < n_in; i++, p += n_out) \
			a += in[i] * *p; \
		z[j] = a; \
	} \
}

DEFINE_LAYER_KERNEL(LayerKernel4, , 4)

/*
 * z = (x - offset) / scale with vectors of LANES floats; returns true when
 * every z is finite (exponent bits not all set).  Division, not a
 * multiplication by a reciprocal: the same rounding as ae_norm_apply.
 */
#define DEFINE_NORMALIZE(NAME, ATTR, LANES) \
ATTR static AE_ALWAYS_INLINE bool \
NAME(const float *restrict x, const float *restrict offset, const float *restrict scale, \
	 float *restrict z, int n) \
{ \
	AeVi##LANES	bad = {0}; \
	uint32_t	bad_tail = 0; \
	int			j = 0; \
	\
	for (; j + (LANES) <= n; j += (LANES)) \
	{ \
		AeVf##LANES	v = (AeLoad##LANES(x + j) - AeLoad##LANES(offset + j)) / AeLoad##LANES(scale + j); \
		\
		AeStore##LANES(z + j, v); \
		bad |= (~(AeVi##LANES) v & AE_FLOAT_EXP_MASK) == 0; \
	} \
	for (; j < n; j++) \
	{ \
		z[j] = (x[j] - offset[j]) / scale[j]; \
		bad_tail |= ae_float_nonfinite(z[j]); \
	} \
	for (int k = 0; k < (LANES); k++) \
		bad_tail |= bad[k] != 0; \
	return bad_tail == 0; \
}

DEFINE_NORMALIZE(Normalize4, , 4)

/* 128-bit vectors: SSE2 on x86-64, NEON on arm64, generic code elsewhere */
static void
RowPortable(const AeModel *model, const float *packed, int from, int to,
			const float *in, float *out, float *scratch)
{
	ROW_BODY(LayerKernel4);
}

static bool
NormalizePortable(const float *x, const float *offset, const float *scale, float *z, int n)
{
	return Normalize4(x, offset, scale, z, n);
}

/* four independent double accumulators: no long chain of dependent adds */
static double
SqDiffSumPortable(const float *a, const float *b, int n)
{
	double		acc[4] = {0.0, 0.0, 0.0, 0.0};
	int			j = 0;

	for (; j + 4 <= n; j += 4)
		for (int k = 0; k < 4; k++)
		{
			double		e = a[j + k] - b[j + k];

			acc[k] += e * e;
		}
	for (; j < n; j++)
	{
		double		e = a[j] - b[j];

		acc[0] += e * e;
	}
	return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

#if defined(__x86_64__)
#define AE_HAVE_AVX2_VARIANT 1
#define AE_AVX2 __attribute__((target("avx2,fma")))

AE_SIMD_WIDTH(8, AE_AVX2)
DEFINE_LAYER_KERNEL(LayerKernel8, AE_AVX2, 8)
DEFINE_NORMALIZE(Normalize8, AE_AVX2, 8)

/* 256-bit vectors with fused multiply-add */
__attribute__((target("avx2,fma")))
static void
RowAvx2(const AeModel *model, const float *packed, int from, int to,
		const float *in, float *out, float *scratch)
{
	ROW_BODY(LayerKernel8);
}

__attribute__((target("avx2,fma")))
static bool
NormalizeAvx2(const float *x, const float *offset, const float *scale, float *z, int n)
{
	return Normalize8(x, offset, scale, z, n);
}

/* differences in float, four at a time widened to double and squared */
__attribute__((target("avx2,fma")))
static double
SqDiffSumAvx2(const float *a, const float *b, int n)
{
	AeVd4		acc0 = {0},
				acc1 = {0};
	double		tail = 0.0;
	int			j = 0;

	for (; j + 8 <= n; j += 8)
	{
		AeVf4		e0 = AeLoad4(a + j) - AeLoad4(b + j);
		AeVf4		e1 = AeLoad4(a + j + 4) - AeLoad4(b + j + 4);
		AeVd4		d0 = __builtin_convertvector(e0, AeVd4);
		AeVd4		d1 = __builtin_convertvector(e1, AeVd4);

		acc0 += d0 * d0;
		acc1 += d1 * d1;
	}
	for (; j < n; j++)
	{
		double		e = a[j] - b[j];

		tail += e * e;
	}
	acc0 += acc1;
	return ((acc0[0] + acc0[1]) + (acc0[2] + acc0[3])) + tail;
}
#endif

#else							/* !AE_HAVE_VECTOR_EXT */

/* z = in · P as a sequence of axpys: the compiler may vectorise the inner loop */
static void
LayerKernelPlain(const float *in, int n_in, const float *P, int n_out, float *z)
{
	for (int j = 0; j < n_out; j++)
		z[j] = 0.0f;
	for (int i = 0; i < n_in; i++)
	{
		const float *p = P + (size_t) i * n_out;
		float		x = in[i];

		for (int j = 0; j < n_out; j++)
			z[j] += x * p[j];
	}
}

static void
RowPortable(const AeModel *model, const float *packed, int from, int to,
			const float *in, float *out, float *scratch)
{
	ROW_BODY(LayerKernelPlain);
}

static bool
NormalizePortable(const float *x, const float *offset, const float *scale, float *z, int n)
{
	bool		ok = true;

	for (int j = 0; j < n; j++)
	{
		z[j] = (x[j] - offset[j]) / scale[j];
		ok &= isfinite(z[j]);
	}
	return ok;
}

static double
SqDiffSumPortable(const float *a, const float *b, int n)
{
	double		acc = 0.0;

	for (int j = 0; j < n; j++)
	{
		double		e = a[j] - b[j];

		acc += e * e;
	}
	return acc;
}

#endif							/* AE_HAVE_VECTOR_EXT */

/* ---------------------------------------------------------------- dispatch */

typedef bool (*NormalizeFn) (const float *, const float *, const float *, float *, int);
typedef double (*SqDiffSumFn) (const float *, const float *, int);

typedef struct Variant
{
	const char *name;
	RowFn		row;
	NormalizeFn normalize;
	SqDiffSumFn sq_diff_sum;
} Variant;

static const Variant Portable = {"portable", RowPortable, NormalizePortable, SqDiffSumPortable};
#ifdef AE_HAVE_AVX2_VARIANT
static const Variant Avx2 = {"avx2", RowAvx2, NormalizeAvx2, SqDiffSumAvx2};
#endif

static const Variant *variant = NULL;
static bool force_portable = false;

static const Variant *
ChooseVariant(void)
{
#ifdef AE_HAVE_AVX2_VARIANT
	if (!force_portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return &Avx2;
#endif
	return &Portable;
}

static inline const Variant *
GetVariant(void)
{
	if (variant == NULL)
		variant = ChooseVariant();
	return variant;
}

void
ae_infer_row(const AeModel *model, const float *packed, int from, int to,
			 const float *in, float *out, float *scratch)
{
	GetVariant()->row(model, packed, from, to, in, out, scratch);
}

bool
ae_infer_normalize(const float *x, const float *offset, const float *scale, float *z, int n)
{
	return GetVariant()->normalize(x, offset, scale, z, n);
}

double
ae_infer_sq_diff_sum(const float *a, const float *b, int n)
{
	return GetVariant()->sq_diff_sum(a, b, n);
}

const char *
ae_infer_variant(void)
{
	return GetVariant()->name;
}

void
ae_infer_force_portable(bool portable)
{
	force_portable = portable;
	variant = ChooseVariant();
}
