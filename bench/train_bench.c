/*
 * train_bench.c — the C side of the training-throughput benchmark.
 *
 *   train_bench prepare DATA INIT n d rank seed h_1 .. h_k
 *       writes n×d float32 rows with low-rank structure (rank latent
 *       factors, linear mixing, a little noise; seeded) to DATA and the
 *       initial weights of d-h_1-..-h_k-d (Glorot, seed) to INIT, in the
 *       core's flat layout (W_l out×in then b_l: nn.Linear's layout)
 *   train_bench train DATA INIT n d epochs batch h_1 .. h_k
 *       trains with ae_train (tanh, linear output, MSE, Adam 1e-3, no
 *       validation, no early stopping) and prints
 *       "samples_per_s S seconds T loss L"
 *   train_bench bound n d epochs batch h_1 .. h_k
 *       times only the matrix products the same training needs, through
 *       ae_gemm with the same shapes and batch sizes: per weight layer the
 *       forward product and the weight gradient, and the input gradient for
 *       every layer but the first (nothing consumes the gradient with
 *       respect to the data).  Prints "samples_per_s S seconds T".
 *   train_bench copy DATA n d
 *       prints the n×d rows of DATA as COPY text, one real[] per line
 *       (every float exactly, %.9g), for loading them into a table
 *   train_bench json INIT d h_1 .. h_k
 *       prints the initial weights INIT as an ae_import document (tanh
 *       hidden layers, linear output, no normalisation), so that ae_train
 *       with warm_start starts from the same weights as the others
 *   train_bench info
 *       prints the OpenBLAS build configuration and core type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ae_blas.h"
#include "ae_train.h"
#include "unit.h"

extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
Fail(const char *what)
{
	fprintf(stderr, "train_bench: %s\n", what);
	exit(1);
}

static void
MakeArch(AeArch *arch, int d, int k, char **widths)
{
	int			hidden[AE_MAX_HIDDEN];
	char		err[AE_ERRBUF_SIZE];

	if (k < 1 || k > AE_MAX_HIDDEN)
		Fail("bad number of hidden layers");
	for (int i = 0; i < k; i++)
		hidden[i] = atoi(widths[i]);
	ae_arch_make(arch, d, k, hidden, AE_ACT_TANH, AE_ACT_LINEAR, false);
	if (ae_arch_validate(arch, err) != AE_OK)
		Fail(err);
}

static void
WriteFile(const char *path, const float *v, size_t n)
{
	FILE	   *f = fopen(path, "wb");

	if (f == NULL || fwrite(v, sizeof(float), n, f) != n || fclose(f) != 0)
		Fail("cannot write output file");
}

static float *
ReadFile(const char *path, size_t n)
{
	FILE	   *f = fopen(path, "rb");
	float	   *v = malloc(n * sizeof(float));

	if (f == NULL || v == NULL || fread(v, sizeof(float), n, f) != n)
		Fail("cannot read input file (wrong size?)");
	fclose(f);
	return v;
}

static int
Prepare(int argc, char **argv)
{
	size_t		n = strtoull(argv[4], NULL, 10);
	int			d = atoi(argv[5]),
				rank = atoi(argv[6]);
	uint64_t	seed = strtoull(argv[7], NULL, 10);
	float	   *X = malloc(n * d * sizeof(float)),
			   *mix = malloc((size_t) rank * d * sizeof(float)),
			   *params;
	double	   *z = malloc(rank * sizeof(double));
	UnitNormal	rng;
	AeArch		arch;
	AeModel		model;
	char		err[AE_ERRBUF_SIZE];

	MakeArch(&arch, d, argc - 8, argv + 8);
	unit_normal_seed(&rng, seed);
	for (int i = 0; i < rank * d; i++)
		mix[i] = (float) (unit_normal(&rng) / sqrt((double) rank));
	for (size_t i = 0; i < n; i++)
	{
		for (int k = 0; k < rank; k++)
			z[k] = unit_normal(&rng);
		for (int j = 0; j < d; j++)
		{
			double		s = 0.1 * unit_normal(&rng);

			for (int k = 0; k < rank; k++)
				s += z[k] * mix[k * d + j];
			X[i * d + j] = (float) s;
		}
	}
	WriteFile(argv[2], X, n * d);

	params = calloc(ae_arch_param_count(&arch), sizeof(float));
	if (ae_model_bind(&model, &arch, params, err) != AE_OK)
		Fail(err);
	ae_model_init_weights(&model, seed);
	WriteFile(argv[3], params, model.n_params);
	return 0;
}

static int
Train(int argc, char **argv)
{
	size_t		n = strtoull(argv[4], NULL, 10);
	int			d = atoi(argv[5]);
	AeArch		arch;
	AeModel		model;
	AeTrainConfig cfg;
	AeTrainResult res;
	char		err[AE_ERRBUF_SIZE];
	float	   *X,
			   *params;
	double		t0,
				secs;

	MakeArch(&arch, d, argc - 8, argv + 8);
	X = ReadFile(argv[2], n * d);
	params = ReadFile(argv[3], ae_arch_param_count(&arch));
	if (ae_model_bind(&model, &arch, params, err) != AE_OK)
		Fail(err);
	ae_train_config_defaults(&cfg);
	cfg.epochs = atoi(argv[6]);
	cfg.batch_size = atoi(argv[7]);
	cfg.validation_fraction = 0.0f;
	cfg.patience = 0;
	cfg.optim.learning_rate = 1e-3f;

	t0 = Now();
	if (ae_train(&model, &cfg, X, n, &unit_allocator, NULL, NULL, &res, err) != AE_OK)
		Fail(err);
	secs = Now() - t0;
	printf("samples_per_s %.1f seconds %.4f loss %.6g\n",
		   (double) n * cfg.epochs / secs, secs, res.history[res.epochs_run - 1].train_loss);
	free(res.history);
	free(params);
	free(X);
	return 0;
}

static float *
RandomBuffer(AeRng *rng, size_t n)
{
	float	   *v = malloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++)
		v[i] = (float) (ae_rng_uniform(rng) - 0.5);
	return v;
}

static int
Bound(int argc, char **argv)
{
	size_t		n = strtoull(argv[2], NULL, 10);
	int			d = atoi(argv[3]),
				epochs = atoi(argv[4]),
				bs = atoi(argv[5]),
				L;
	AeArch		arch;
	AeModel		model;
	AeRng		rng;
	char		err[AE_ERRBUF_SIZE];
	float	   *params,
			   *act[AE_MAX_HIDDEN + 2],
			   *dlt[AE_MAX_HIDDEN + 2],
			   *dW[AE_MAX_HIDDEN + 1];
	double		t0,
				secs;

	MakeArch(&arch, d, argc - 6, argv + 6);
	ae_rng_seed(&rng, 1);
	params = RandomBuffer(&rng, ae_arch_param_count(&arch));
	if (ae_model_bind(&model, &arch, params, err) != AE_OK)
		Fail(err);
	L = model.n_layers;
	for (int l = 0; l <= L; l++)
	{
		act[l] = RandomBuffer(&rng, (size_t) bs * model.dims[l]);
		dlt[l] = RandomBuffer(&rng, (size_t) bs * model.dims[l]);
	}
	for (int l = 0; l < L; l++)
		dW[l] = RandomBuffer(&rng, (size_t) model.dims[l] * model.dims[l + 1]);

	t0 = Now();
	for (int e = 0; e < epochs; e++)
		for (size_t start = 0; start < n; start += bs)
		{
			int			B = (int) (n - start < (size_t) bs ? n - start : (size_t) bs);

			for (int l = 0; l < L; l++)
			{
				int			in = model.dims[l],
							out = model.dims[l + 1];

				/* z (B×out) = a (B×in) Wᵀ */
				ae_gemm(false, true, B, out, in, 1.0f, act[l], in, model.W[l], in,
						0.0f, act[l + 1], out);
			}
			for (int l = L - 1; l >= 0; l--)
			{
				int			in = model.dims[l],
							out = model.dims[l + 1];

				/* dW (out×in) += δᵀ (out×B) a (B×in) */
				ae_gemm(true, false, out, in, B, 1.0f, dlt[l + 1], out, act[l], in,
						1.0f, dW[l], in);
				/* δ_prev (B×in) = δ (B×out) W (out×in) */
				if (l > 0)
					ae_gemm(false, false, B, in, out, 1.0f, dlt[l + 1], out, model.W[l], in,
							0.0f, dlt[l], in);
			}
		}
	secs = Now() - t0;
	printf("samples_per_s %.1f seconds %.4f\n", (double) n * epochs / secs, secs);
	return 0;
}

static int
Copy(char **argv)
{
	size_t		n = strtoull(argv[3], NULL, 10);
	int			d = atoi(argv[4]);
	float	   *X = ReadFile(argv[2], n * d);

	for (size_t i = 0; i < n; i++)
	{
		putchar('{');
		for (int j = 0; j < d; j++)
			printf(j ? ",%.9g" : "%.9g", X[i * d + j]);
		fputs("}\n", stdout);
	}
	free(X);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int
Json(int argc, char **argv)
{
	int			d = atoi(argv[3]);
	AeArch		arch;
	AeModel		model;
	char		err[AE_ERRBUF_SIZE];
	float	   *params;

	MakeArch(&arch, d, argc - 4, argv + 4);
	params = ReadFile(argv[2], ae_arch_param_count(&arch));
	if (ae_model_bind(&model, &arch, params, err) != AE_OK)
		Fail(err);
	printf("{\"format\": \"autoenc\", \"format_version\": 1, \"n_inputs\": %d, \"layers\": [", d);
	for (int l = 0; l < model.n_layers; l++)
	{
		int			in = model.dims[l],
					out = model.dims[l + 1];

		printf("%s{\"activation\": \"%s\", \"weight\": [", l ? ", " : "",
			   l == model.n_layers - 1 ? "linear" : "tanh");
		for (int o = 0; o < out; o++)
		{
			printf("%s[", o ? ", " : "");
			for (int i = 0; i < in; i++)
				printf(i ? ", %.9g" : "%.9g", model.W[l][(size_t) o * in + i]);
			putchar(']');
		}
		fputs("], \"bias\": [", stdout);
		for (int o = 0; o < out; o++)
			printf(o ? ", %.9g" : "%.9g", model.b[l][o]);
		fputs("]}", stdout);
	}
	puts("]}");
	free(params);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 9 && strcmp(argv[1], "prepare") == 0)
		return Prepare(argc, argv);
	if (argc >= 9 && strcmp(argv[1], "train") == 0)
		return Train(argc, argv);
	if (argc >= 7 && strcmp(argv[1], "bound") == 0)
		return Bound(argc, argv);
	if (argc == 5 && strcmp(argv[1], "copy") == 0)
		return Copy(argv);
	if (argc >= 5 && strcmp(argv[1], "json") == 0)
		return Json(argc, argv);
	if (argc == 2 && strcmp(argv[1], "info") == 0)
	{
		printf("%s | core %s\n", openblas_get_config(), openblas_get_corename());
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of bench/train_bench.c\n");
	return 2;
}
