/*
 * ae_infer.c — one-row inference through packed (transposed) weights.
 *
 * Shapes: n_in = dims[l], n_out = dims[l+1]; P_l is n_in × n_out row-major.
 *
 * A layer computes z[j] = Σ_i in[i] · P_l[i][j] for all j at once: for a
 * block of output units, accumulators stay in vector registers while the
 * loop walks the inputs, broadcasting in[i] and adding in[i] times a
 * contiguous stretch of row i of P_l.  Every output sums its terms in input
 * order, like the reference GEMM, so the two agree to float rounding.  The
 * bias and the activation are then applied by ae_act_forward(), exactly as
 * the batched path does.
 */
#include "ae_infer.h"

#include <string.h>

#include "ae_act.h"

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
	int			widest = 0;

	for (int l = 1; l < model->n_layers; l++)
		if (model->dims[l] > widest)
			widest = model->dims[l];
	return 2 * (size_t) widest;
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
			KERNEL(cur, n_in, P, n_out, dst); \
			ae_act_forward(model->act[l], dst, model->b[l], 1, n_out); \
			P += (size_t) n_in * n_out; \
			cur = dst; \
		} \
	} while (0)

typedef void (*RowFn) (const AeModel *, const float *, int, int, const float *, float *, float *);

#ifdef AE_HAVE_VECTOR_EXT

/*
 * Vector types: VEC_LANES floats.  The _u twins have float alignment, to
 * load and store stretches of P and z that are not vector-aligned.  Vectors
 * never cross a function boundary (that would depend on the target's
 * calling convention).
 */
typedef float v4sf __attribute__((vector_size(16)));
typedef float v4sf_u __attribute__((vector_size(16), aligned(4), may_alias));
typedef float v8sf __attribute__((vector_size(32)));
typedef float v8sf_u __attribute__((vector_size(32), aligned(4), may_alias));

/*
 * z (n_out) = in (n_in) · P (n_in × n_out) with vectors of LANES floats:
 * blocks of 4·LANES outputs in four accumulators, then blocks of LANES,
 * then the last few outputs one by one.
 */
#define DEFINE_LAYER_KERNEL(NAME, VT, VTU, LANES) \
static AE_ALWAYS_INLINE void \
NAME(const float *restrict in, int n_in, const float *restrict P, int n_out, \
	 float *restrict z) \
{ \
	int			j = 0; \
	\
	for (; j + 4 * (LANES) <= n_out; j += 4 * (LANES)) \
	{ \
		VT			a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}; \
		const float *p = P + j; \
		\
		for (int i = 0; i < n_in; i++, p += n_out) \
		{ \
			float		x = in[i]; \
			\
			a0 += x * *(const VTU *) p; \
			a1 += x * *(const VTU *) (p + (LANES)); \
			a2 += x * *(const VTU *) (p + 2 * (LANES)); \
			a3 += x * *(const VTU *) (p + 3 * (LANES)); \
		} \
		*(VTU *) (z + j) = a0; \
		*(VTU *) (z + j + (LANES)) = a1; \
		*(VTU *) (z + j + 2 * (LANES)) = a2; \
		*(VTU *) (z + j + 3 * (LANES)) = a3; \
	} \
	for (; j + (LANES) <= n_out; j += (LANES)) \
	{ \
		VT			a = {0}; \
		const float *p = P + j; \
		\
		for (int i = 0; i < n_in; i++, p += n_out) \
			a += in[i] * *(const VTU *) p; \
		*(VTU *) (z + j) = a; \
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

DEFINE_LAYER_KERNEL(LayerKernel4, v4sf, v4sf_u, 4)
DEFINE_LAYER_KERNEL(LayerKernel8, v8sf, v8sf_u, 8)

/* 128-bit vectors: SSE2 on x86-64, NEON on arm64, generic code elsewhere */
static void
RowPortable(const AeModel *model, const float *packed, int from, int to,
			const float *in, float *out, float *scratch)
{
	ROW_BODY(LayerKernel4);
}

#if defined(__x86_64__)
#define AE_HAVE_AVX2_VARIANT 1

/* 256-bit vectors with fused multiply-add */
__attribute__((target("avx2,fma")))
static void
RowAvx2(const AeModel *model, const float *packed, int from, int to,
		const float *in, float *out, float *scratch)
{
	ROW_BODY(LayerKernel8);
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

#endif							/* AE_HAVE_VECTOR_EXT */

static RowFn row_fn = NULL;
static bool force_portable = false;

static RowFn
ChooseRowFn(void)
{
#ifdef AE_HAVE_AVX2_VARIANT
	if (!force_portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return RowAvx2;
#endif
	return RowPortable;
}

void
ae_infer_row(const AeModel *model, const float *packed, int from, int to,
			 const float *in, float *out, float *scratch)
{
	if (row_fn == NULL)
		row_fn = ChooseRowFn();
	row_fn(model, packed, from, to, in, out, scratch);
}

const char *
ae_infer_variant(void)
{
	if (row_fn == NULL)
		row_fn = ChooseRowFn();
#ifdef AE_HAVE_AVX2_VARIANT
	if (row_fn == RowAvx2)
		return "avx2";
#endif
	return "portable";
}

void
ae_infer_force_portable(bool portable)
{
	force_portable = portable;
	row_fn = ChooseRowFn();
}
