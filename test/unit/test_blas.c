/*
 * test_blas.c — the BLAS door: ae_gemm through OpenBLAS agrees with
 * a naive double-precision product for every transpose combination,
 * and the RNG is reproducible.
 */
#include <string.h>

#include "ae_blas.h"
#include "ae_rng.h"
#include "unit.h"

static void
FillRandom(AeRng *rng, float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = (float) (ae_rng_uniform(rng) * 2.0 - 1.0);
}

/* The same product as ae_gemm with a triple loop in double. */
static void
GemmNaive(bool transA, bool transB, int M, int N, int K,
		  float alpha, const float *A, int lda,
		  const float *B, int ldb,
		  float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			double		acc = 0.0;

			for (int k = 0; k < K; k++)
			{
				float		a = transA ? A[k * lda + i] : A[i * lda + k];
				float		b = transB ? B[j * ldb + k] : B[k * ldb + j];

				acc += (double) a * b;
			}
			/* beta == 0 must ignore C entirely (it may hold NaN garbage) */
			C[i * ldc + j] = (float) (alpha * acc + (beta == 0.0f ? 0.0 : (double) beta * C[i * ldc + j]));
		}
}

static void
TestGemm(void)
{
	enum {M = 7, N = 5, K = 9};
	float		A[M * K],
				Bm[K * N],
				C[M * N],
				R[M * N];
	AeRng		rng;

	ae_rng_seed(&rng, 42);
	FillRandom(&rng, A, M * K);
	FillRandom(&rng, Bm, K * N);
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++)
		{
			double		maxdiff = 0.0;
			int			lda = ta ? M : K;
			int			ldb = tb ? K : N;

			FillRandom(&rng, C, M * N);
			memcpy(R, C, sizeof(C));
			ae_gemm(ta, tb, M, N, K, 0.5f, A, lda, Bm, ldb, 2.0f, C, N);
			GemmNaive(ta, tb, M, N, K, 0.5f, A, lda, Bm, ldb, 2.0f, R, N);
			for (int i = 0; i < M * N; i++)
				maxdiff = fmax(maxdiff, fabs(C[i] - R[i]));
			unit_ok(maxdiff < 1e-5, "cblas_sgemm transA=%d transB=%d matches naive (max diff %.2e)",
					ta, tb, maxdiff);
		}
}

static void
TestRng(void)
{
	AeRng		a,
				b;
	int			same = 1;
	uint32_t	idx[100];
	int			seen[100] = {0};
	int			perm_ok = 1;

	ae_rng_seed(&a, 123);
	ae_rng_seed(&b, 123);
	for (int i = 0; i < 1000; i++)
		same &= ae_rng_next(&a) == ae_rng_next(&b);
	unit_ok(same, "same seed gives the same stream");
	ae_rng_seed(&b, 124);
	unit_ok(ae_rng_next(&a) != ae_rng_next(&b), "different seeds differ");

	for (uint32_t i = 0; i < 100; i++)
		idx[i] = i;
	ae_rng_shuffle(&a, idx, 100);
	for (int i = 0; i < 100; i++)
		seen[idx[i]]++;
	for (int i = 0; i < 100; i++)
		perm_ok &= seen[i] == 1;
	unit_ok(perm_ok, "shuffle is a permutation");
}

/*
 * The ziggurat sampler against the normal distribution's known moments and
 * tail masses: a wrong table or a broken tail shows up as a shifted share.
 */
static void
TestZiggurat(void)
{
	enum {N = 400000};
	static float z[N];
	static float z2[N];
	AeRng		a,
				b;
	double		m1 = 0,
				m2 = 0,
				m4 = 0;
	long		over1 = 0,
				over2 = 0,
				over3 = 0;

	ae_rng_seed(&a, 2024);
	ae_rng_normal_floats(&a, z, N);
	for (int i = 0; i < N; i++)
	{
		double		v = z[i];

		m1 += v;
		m2 += v * v;
		m4 += v * v * v * v;
		over1 += fabs(v) > 1.0;
		over2 += fabs(v) > 2.0;
		over3 += fabs(v) > 3.0;
	}
	m1 /= N;
	m2 /= N;
	m4 /= N;
	unit_ok(fabs(m1) < 0.01 && fabs(m2 - 1.0) < 0.01 && fabs(m4 - 3.0) < 0.06,
			"ziggurat normals: mean %.4f, variance %.4f, fourth moment %.3f (0, 1, 3)", m1, m2, m4);
	/* P(|Z| > 1, 2, 3) = 0.31731, 0.04550, 0.00270; bounds are ~5 standard errors */
	unit_ok(fabs((double) over1 / N - 0.31731) < 0.004 &&
			fabs((double) over2 / N - 0.04550) < 0.0017 &&
			fabs((double) over3 / N - 0.00270) < 0.0005,
			"ziggurat tail masses %.5f %.5f %.5f (0.31731 0.04550 0.00270)",
			(double) over1 / N, (double) over2 / N, (double) over3 / N);
	ae_rng_seed(&b, 2024);
	ae_rng_normal_floats(&b, z2, N);
	unit_ok(memcmp(z, z2, sizeof(z)) == 0, "ziggurat normals are reproducible for a seed");
}

int
main(void)
{
	TestGemm();
	TestRng();
	TestZiggurat();
	return unit_done();
}
