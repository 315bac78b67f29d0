/*
 * test_train.c — the training loop: it learns, it is reproducible, and every
 * option it takes demonstrably changes the model it returns.
 *
 * Data: rows of a noisy 3-factor model in 8 columns (sensor-like: a few
 * hidden causes, nonlinear mixing, measurement noise), squashed into (0, 1)
 * so that the BCE loss can be trained on the same rows.
 */
#include <string.h>

#include "ae_train.h"
#include "unit.h"

#define D		8
#define NROWS	600

static float data[NROWS * D];

static void
MakeData(float *X, int n, uint64_t seed)
{
	UnitNormal	rng;
	float		mix[3][D];

	unit_normal_seed(&rng, seed);
	for (int k = 0; k < 3; k++)
		for (int j = 0; j < D; j++)
			mix[k][j] = (float) (ae_rng_uniform(&rng.rng) * 2 - 1);
	for (int i = 0; i < n; i++)
	{
		double		z[3];

		for (int k = 0; k < 3; k++)
			z[k] = unit_normal(&rng);
		for (int j = 0; j < D; j++)
		{
			double		s = 0.05 * unit_normal(&rng);

			for (int k = 0; k < 3; k++)
				s += mix[k][j] * z[k];
			X[i * D + j] = (float) (1.0 / (1.0 + exp(-s)));
		}
	}
}

/* --------------------------------------------------------- counting allocator */

typedef struct Counter
{
	long		allocs,
				frees;
} Counter;

static void *
CountAlloc(void *ctx, size_t size)
{
	((Counter *) ctx)->allocs++;
	return malloc(size);
}

static void
CountFree(void *ctx, void *ptr)
{
	((Counter *) ctx)->frees++;
	free(ptr);
}

/* An allocator whose call number fail_at (1-based) returns NULL; counts like Counter. */
typedef struct FailAt
{
	long		calls,
				fail_at,
				live;
} FailAt;

static void *
FailAlloc(void *ctx, size_t size)
{
	FailAt	   *f = (FailAt *) ctx;

	if (++f->calls == f->fail_at)
		return NULL;
	f->live++;
	return malloc(size);
}

static void
FailFree(void *ctx, void *ptr)
{
	((FailAt *) ctx)->live--;
	free(ptr);
}

/* ---------------------------------------------------------------- one run */

typedef struct Setup
{
	AeArch		arch;
	AeTrainConfig cfg;
	uint64_t	init_seed;
} Setup;

typedef struct Run
{
	AeStatus	status;
	AeTrainResult res;
	size_t		n_params;
	float	   *params;
	char		err[AE_ERRBUF_SIZE];
} Run;

static void
DefaultSetup(Setup *s)
{
	int			hidden[3] = {6, 3, 6};

	ae_arch_make(&s->arch, D, 3, hidden, AE_ACT_TANH, AE_ACT_LINEAR, false);
	ae_train_config_defaults(&s->cfg);
	s->cfg.epochs = 8;
	s->cfg.batch_size = 32;
	s->cfg.patience = 0;
	s->cfg.optim.learning_rate = 0.01f;
	s->init_seed = 1;
}

static void
DoRun(const Setup *s, const float *X, size_t n, AeBatchCallback cb, void *arg, Run *r)
{
	AeModel		model;

	memset(r, 0, sizeof(*r));
	r->n_params = ae_arch_param_count(&s->arch);
	r->params = calloc(r->n_params, sizeof(float));
	if (ae_model_bind(&model, &s->arch, r->params, r->err) != AE_OK)
	{
		r->status = AE_ERR_CONFIG;
		return;
	}
	ae_model_init_weights(&model, s->init_seed);
	r->status = ae_train(&model, &s->cfg, X, n, &unit_allocator, cb, arg, &r->res, r->err);
}

static void
FreeRun(Run *r)
{
	free(r->params);
	free(r->res.history);
	r->params = NULL;
	r->res.history = NULL;
}

static bool
SameParams(const Run *a, const Run *b)
{
	return a->n_params == b->n_params
		&& memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0;
}

/* ---------------------------------------------------------------- tests */

static void
TestLearns(void)
{
	Setup		s;
	Run			r;
	AeEpochStats *h;
	bool		numbered = true;

	DefaultSetup(&s);
	s.cfg.epochs = 40;
	DoRun(&s, data, NROWS, NULL, NULL, &r);
	unit_ok(r.status == AE_OK, "training on 600 rows succeeds (%s)", r.status ? r.err : "ok");
	if (r.status != AE_OK)
		return;
	h = r.res.history;
	unit_ok(r.res.epochs_run == 40 && r.res.best_epoch == 40,
			"without patience all 40 epochs run and the last is kept");
	unit_ok(r.res.n_train == 540 && r.res.n_val == 60, "validation_fraction 0.1 holds out 60 of 600 rows");
	unit_ok(h[39].train_loss < 0.5 * h[0].train_loss,
			"train loss falls by more than half: %.5f → %.5f", h[0].train_loss, h[39].train_loss);
	unit_ok(h[39].val_loss < 0.5 * h[0].val_loss,
			"validation loss falls too: %.5f → %.5f", h[0].val_loss, h[39].val_loss);
	for (int e = 0; e < 40; e++)
		numbered &= h[e].epoch == e + 1 && h[e].seconds >= 0 && isfinite(h[e].val_loss);
	unit_ok(numbered, "history: epochs numbered 1..40, times and validation losses filled in");
	unit_ok(r.res.train_loss == h[39].train_loss && r.res.val_loss == h[39].val_loss,
			"the result reports the kept epoch's losses");
	FreeRun(&r);
}

/*
 * Without shuffle, split or early stopping, ae_train is exactly this loop:
 * consecutive batches (the last one partial), one loss_grad and one step
 * each, the learning-rate decay after every epoch.
 */
static void
TestMatchesManualLoop(void)
{
	Setup		s;
	Run			r;
	AeModel		model;
	AeWorkspace *ws;
	AeOptimizer opt;
	float	   *params,
			   *grad;
	char		err[AE_ERRBUF_SIZE];

	DefaultSetup(&s);
	s.cfg.shuffle = false;
	s.cfg.validation_fraction = 0.0f;
	s.cfg.batch_size = 64;		/* 600 = 9·64 + 24 */
	s.cfg.epochs = 3;
	s.cfg.optim.lr_decay = 0.9f;
	DoRun(&s, data, NROWS, NULL, NULL, &r);

	params = calloc(r.n_params, sizeof(float));
	grad = calloc(r.n_params, sizeof(float));
	ae_model_bind(&model, &s.arch, params, err);
	ae_model_init_weights(&model, s.init_seed);
	ws = ae_workspace_create(&model, &s.cfg.objective, 64, &unit_allocator);
	ae_optim_create(&opt, &s.cfg.optim, r.n_params, &unit_allocator);
	for (int e = 0; e < 3; e++)
	{
		for (int start = 0; start < NROWS; start += 64)
		{
			int			B = NROWS - start < 64 ? NROWS - start : 64;
			AeLossParts parts;

			ae_loss_grad(&model, ws, &s.cfg.objective, data + start * D, data + start * D, B,
						 grad, &parts, NULL);
			ae_optim_step(&opt, params, grad, NULL);
		}
		ae_optim_epoch_end(&opt);
	}
	unit_ok(r.status == AE_OK && memcmp(params, r.params, r.n_params * sizeof(float)) == 0,
			"no shuffle, no split: ae_train equals the plain batch loop bit for bit");
	ae_optim_destroy(&opt, &unit_allocator);
	ae_workspace_destroy(ws, &unit_allocator);
	free(params);
	free(grad);
	FreeRun(&r);
}

static void
TestDeterminism(void)
{
	Setup		s;
	Run			a,
				b,
				c,
				d;

	DefaultSetup(&s);
	s.cfg.objective.noise = AE_NOISE_GAUSSIAN;	/* noise draws must be reproducible too */
	DoRun(&s, data, NROWS, NULL, NULL, &a);
	DoRun(&s, data, NROWS, NULL, NULL, &b);
	unit_ok(a.status == AE_OK && SameParams(&a, &b), "same seed, same data: bit-identical parameters");
	unit_ok(a.status == AE_OK && a.res.history[7].train_loss == b.res.history[7].train_loss,
			"same seed: identical loss history");
	s.cfg.seed = 43;
	DoRun(&s, data, NROWS, NULL, NULL, &c);
	unit_ok(c.status == AE_OK && !SameParams(&a, &c), "a different seed gives a different model");
	s.cfg.seed = 42;
	s.cfg.shuffle = false;
	DoRun(&s, data, NROWS, NULL, NULL, &d);
	unit_ok(d.status == AE_OK && !SameParams(&a, &d), "shuffle = false gives a different model");
	FreeRun(&a);
	FreeRun(&b);
	FreeRun(&c);
	FreeRun(&d);
}

static void
TestValidation(void)
{
	Setup		s;
	Run			r;
	bool		nan_all = true;

	DefaultSetup(&s);
	s.cfg.validation_fraction = 0.0f;
	DoRun(&s, data, NROWS, NULL, NULL, &r);
	for (int e = 0; r.status == AE_OK && e < r.res.epochs_run; e++)
		nan_all &= isnan(r.res.history[e].val_loss);
	unit_ok(r.status == AE_OK && r.res.n_val == 0 && r.res.n_train == NROWS && nan_all
			&& isnan(r.res.val_loss),
			"validation_fraction 0: every row trains, val_loss is NaN");
	FreeRun(&r);

	s.cfg.validation_fraction = 0.25f;
	DoRun(&s, data, 10, NULL, NULL, &r);
	unit_ok(r.status == AE_OK && r.res.n_val == 2 && r.res.n_train == 8,
			"validation_fraction 0.25 of 10 rows holds out floor(2.5) = 2");
	FreeRun(&r);

	s.cfg.validation_fraction = 0.5f;
	DoRun(&s, data, 1, NULL, NULL, &r);
	unit_ok(r.status == AE_OK && r.res.n_val == 0 && r.res.n_train == 1,
			"one row: it trains, nothing is held out");
	FreeRun(&r);
}

/*
 * Early stopping, constructed to trigger: 40 rows of pure noise, half held
 * out, through a 2-wide bottleneck.  The network can only memorise its 20
 * training rows, so after a few epochs of learning the mean the validation
 * loss rises and stays up.
 */
static void
TestEarlyStopping(void)
{
	enum {NN = 40};
	float		noise[NN * D];
	int			hidden[3] = {32, 2, 32};
	UnitNormal	rng;
	Setup		s;
	Run			r,
				again,
				full;
	int			best;
	bool		best_is_min = true;

	unit_normal_seed(&rng, 77);
	for (int i = 0; i < NN * D; i++)
		noise[i] = (float) unit_normal(&rng);
	DefaultSetup(&s);
	ae_arch_make(&s.arch, D, 3, hidden, AE_ACT_TANH, AE_ACT_LINEAR, false);
	s.cfg.validation_fraction = 0.5f;
	s.cfg.batch_size = 4;
	s.cfg.epochs = 400;
	s.cfg.patience = 15;
	DoRun(&s, noise, NN, NULL, NULL, &r);
	unit_ok(r.status == AE_OK && r.res.epochs_run < 400 && r.res.best_epoch < r.res.epochs_run,
			"overfitting noise stops early: best epoch %d, stopped after %d of 400",
			r.res.best_epoch, r.res.epochs_run);
	if (r.status != AE_OK)
		return;
	best = r.res.best_epoch;
	unit_ok(r.res.epochs_run == best + 15, "it stops exactly patience (15) epochs after the best");
	for (int e = 0; e < r.res.epochs_run; e++)
		best_is_min &= r.res.history[e].val_loss >= r.res.history[best - 1].val_loss;
	unit_ok(best_is_min && r.res.val_loss == r.res.history[best - 1].val_loss,
			"the kept epoch has the lowest validation loss (%.4f)", r.res.val_loss);

	/* the restored weights are exactly those after `best` epochs */
	s.cfg.patience = 0;
	s.cfg.epochs = best;
	DoRun(&s, noise, NN, NULL, NULL, &again);
	unit_ok(again.status == AE_OK && SameParams(&r, &again),
			"restored weights are bit-identical to a run of exactly %d epochs", best);
	s.cfg.epochs = r.res.epochs_run;
	DoRun(&s, noise, NN, NULL, NULL, &full);
	unit_ok(full.status == AE_OK && !SameParams(&r, &full),
			"and differ from the weights of the last epoch run");
	FreeRun(&r);
	FreeRun(&again);
	FreeRun(&full);

	/* no validation rows: the training loss is watched; it keeps falling here */
	DefaultSetup(&s);
	s.cfg.validation_fraction = 0.0f;
	s.cfg.patience = 3;
	s.cfg.epochs = 10;
	DoRun(&s, data, NROWS, NULL, NULL, &r);
	unit_ok(r.status == AE_OK && r.res.epochs_run == 10 && r.res.best_epoch == 10,
			"without validation rows a falling training loss never stops early");
	FreeRun(&r);
}

typedef struct CbState
{
	int			calls,
				stop_epoch,
				stop_batch,
				last_n_batches,
				epochs_done;
	bool		done_only_last;
} CbState;

static bool
Callback(void *arg, int epoch, int batch, int n_batches, const AeEpochStats *done)
{
	CbState    *cs = arg;

	cs->calls++;
	cs->last_n_batches = n_batches;
	if ((done != NULL) != (batch == n_batches))
		cs->done_only_last = false;
	if (done)
	{
		cs->epochs_done++;
		if (done->epoch != epoch || !isfinite(done->val_loss))
			cs->done_only_last = false;
	}
	return !(epoch == cs->stop_epoch && batch == cs->stop_batch);
}

static void
TestCallback(void)
{
	Setup		s;
	Run			r;
	CbState		cs = {0, 0, 0, 0, 0, true};

	DefaultSetup(&s);
	s.cfg.batch_size = 64;
	s.cfg.epochs = 3;
	DoRun(&s, data, NROWS, Callback, &cs, &r);
	unit_ok(r.status == AE_OK && cs.calls == 27 && cs.last_n_batches == 9 && cs.epochs_done == 3,
			"540 training rows in batches of 64: 9 batches (last one partial), 27 callbacks");
	unit_ok(cs.done_only_last, "epoch stats are passed after, and only after, each epoch's last batch");
	FreeRun(&r);

	memset(&cs, 0, sizeof(cs));
	cs.done_only_last = true;
	cs.stop_epoch = 2;
	cs.stop_batch = 3;
	DoRun(&s, data, NROWS, Callback, &cs, &r);
	unit_ok(r.status == AE_ERR_CANCELED && cs.calls == 12 && r.res.history == NULL,
			"callback returning false cancels at once (AE_ERR_CANCELED): %s", r.err);
	FreeRun(&r);
}

static void
TestErrors(void)
{
	Setup		s;
	Run			r;
	float		bad[20 * D];
	char		err[AE_ERRBUF_SIZE];
	AeTrainConfig c;

	DefaultSetup(&s);
	memcpy(bad, data, sizeof(bad));
	bad[5 * D + 2] = NAN;
	DoRun(&s, bad, 20, NULL, NULL, &r);
	unit_ok(r.status == AE_ERR_DATA && strstr(r.err, "row 6, column 3"),
			"NaN in the data: AE_ERR_DATA naming row and column: %s", r.err);
	FreeRun(&r);
	bad[5 * D + 2] = INFINITY;
	DoRun(&s, bad, 20, NULL, NULL, &r);
	unit_ok(r.status == AE_ERR_DATA, "infinity in the data: AE_ERR_DATA");
	FreeRun(&r);

	DoRun(&s, data, 0, NULL, NULL, &r);
	unit_ok(r.status == AE_ERR_DATA, "no rows: AE_ERR_DATA: %s", r.err);
	FreeRun(&r);

	/* a learning rate that blows up the first steps */
	memcpy(bad, data, sizeof(bad));
	for (int i = 0; i < 20 * D; i++)
		bad[i] *= 1e15f;
	s.cfg.optim.kind = AE_OPT_SGD;
	s.cfg.optim.learning_rate = 1e10f;
	s.cfg.batch_size = 4;
	DoRun(&s, bad, 20, NULL, NULL, &r);
	unit_ok(r.status == AE_ERR_NONFINITE && strstr(r.err, "epoch 1, batch"),
			"divergence: AE_ERR_NONFINITE naming epoch and batch: %s", r.err);
	FreeRun(&r);

	ae_train_config_defaults(&c);
	c.batch_size = 0;
	unit_ok(ae_train_config_validate(&c, NULL, err) == AE_ERR_CONFIG && strstr(err, "batch_size"),
			"batch_size 0 rejected: %s", err);
	ae_train_config_defaults(&c);
	c.epochs = 0;
	unit_ok(ae_train_config_validate(&c, NULL, err) == AE_ERR_CONFIG && strstr(err, "epochs"),
			"epochs 0 rejected: %s", err);
	ae_train_config_defaults(&c);
	c.validation_fraction = 1.0f;
	unit_ok(ae_train_config_validate(&c, NULL, err) == AE_ERR_CONFIG && strstr(err, "validation_fraction"),
			"validation_fraction 1 rejected: %s", err);
	ae_train_config_defaults(&c);
	c.patience = -1;
	unit_ok(ae_train_config_validate(&c, NULL, err) == AE_ERR_CONFIG && strstr(err, "patience"),
			"patience -1 rejected: %s", err);
	ae_train_config_defaults(&c);
	c.optim.learning_rate = -1;
	unit_ok(ae_train_config_validate(&c, NULL, err) == AE_ERR_CONFIG && strstr(err, "learning_rate"),
			"optimiser options are validated too: %s", err);
	ae_train_config_defaults(&c);
	unit_ok(c.batch_size == 32 && c.epochs == 50 && c.shuffle && c.validation_fraction == 0.1f
			&& c.patience == 10 && c.seed == 42 && c.optim.kind == AE_OPT_ADAM
			&& c.optim.learning_rate == 1e-3f && ae_train_config_validate(&c, NULL, err) == AE_OK,
			"defaults: adam 1e-3, batch 32, 50 epochs, shuffle, 10%% validation, patience 10, seed 42");
}

static void
TestMemory(void)
{
	Setup		s;
	Counter		cnt[2] = {{0, 0}, {0, 0}};
	bool		ok = true;

	DefaultSetup(&s);
	s.cfg.patience = 2;
	s.cfg.objective.noise = AE_NOISE_MASK;
	for (int k = 0; k < 2; k++)
	{
		AeAllocator al = {CountAlloc, CountFree, &cnt[k]};
		float	   *params = calloc(ae_arch_param_count(&s.arch), sizeof(float));
		AeModel		model;
		AeTrainResult res;
		char		err[AE_ERRBUF_SIZE];

		s.cfg.epochs = k == 0 ? 1 : 6;
		ok &= ae_model_bind(&model, &s.arch, params, err) == AE_OK;
		ae_model_init_weights(&model, 1);
		ok &= ae_train(&model, &s.cfg, data, NROWS, &al, NULL, NULL, &res, err) == AE_OK;
		ok &= cnt[k].allocs == cnt[k].frees + 1;	/* the history is the caller's */
		al.free(al.ctx, res.history);
		free(params);
	}
	unit_ok(ok, "everything but the history is freed");
	unit_ok(cnt[0].allocs == cnt[1].allocs,
			"allocations do not grow with epochs or batches (%ld for 1 epoch, %ld for 6)",
			cnt[0].allocs, cnt[1].allocs);

	/*
	 * Each allocation failing in turn (validation and contractive on, so
	 * that every buffer exists): AE_ERR_NOMEM, errbuf naming it, nothing
	 * left allocated, no history.
	 */
	{
		long		n_allocs;
		int			named = 0,
					clean = 0,
					nomem = 0;

		s.cfg.epochs = 1;
		s.cfg.objective.contractive = 0.01f;
		{
			FailAt		f = {0, -1, 0};
			AeAllocator al = {FailAlloc, FailFree, &f};
			float	   *params = calloc(ae_arch_param_count(&s.arch), sizeof(float));
			AeModel		model;
			AeTrainResult res;
			char		err[AE_ERRBUF_SIZE];

			ae_model_bind(&model, &s.arch, params, err);
			ae_model_init_weights(&model, 1);
			ok = ae_train(&model, &s.cfg, data, NROWS, &al, NULL, NULL, &res, err) == AE_OK;
			n_allocs = f.calls;
			free(res.history);
			free(params);
		}
		for (long k = 1; k <= n_allocs; k++)
		{
			FailAt		f = {0, k, 0};
			AeAllocator al = {FailAlloc, FailFree, &f};
			float	   *params = calloc(ae_arch_param_count(&s.arch), sizeof(float));
			AeModel		model;
			AeTrainResult res;
			char		err[AE_ERRBUF_SIZE] = "";

			ae_model_bind(&model, &s.arch, params, err);
			ae_model_init_weights(&model, 1);
			err[0] = '\0';
			nomem += ae_train(&model, &s.cfg, data, NROWS, &al, NULL, NULL, &res, err) == AE_ERR_NOMEM;
			named += strstr(err, "out of memory allocating the ") != NULL;
			clean += f.live == 0 && res.history == NULL;
			free(params);
		}
		unit_ok(ok && n_allocs >= 8 && nomem == n_allocs && named == n_allocs && clean == n_allocs,
				"each of the %ld allocations failing: AE_ERR_NOMEM %d times, errbuf names it %d times, all freed %d times",
				n_allocs, nomem, named, clean);
	}
}

/*
 * Every option changes the trained model.  Each row sets a baseline (where
 * the option needs context: momentum needs the momentum optimiser, the KL
 * target needs the KL penalty) and one change; both are trained and the
 * parameters compared.  The network has a sigmoid code layer and the data
 * lie in (0, 1), so every objective applies.
 */
typedef enum Opt
{
	O_BATCH, O_EPOCHS, O_LR, O_SGD, O_MOMENTUM_KIND, O_ADAMW, O_MOMENTUM, O_NESTEROV,
	O_BETA1, O_BETA2, O_EPS, O_WD, O_WD_ADAMW, O_CLIP, O_LR_DECAY, O_GAUSSIAN, O_MASK,
	O_NOISE_LEVEL, O_L1, O_KL, O_KL_TARGET, O_CONTRACTIVE, O_CONTRACTIVE_SAMPLES,
	O_TIED, O_BCE, O_SHUFFLE, O_VALFRAC, O_PATIENCE, O_SEED
} Opt;

static const struct
{
	Opt			opt;
	const char *name;
}			option_table[] =
{
	{O_BATCH, "batch_size 32 → 50"},
	{O_EPOCHS, "epochs 8 → 9"},
	{O_LR, "learning_rate 0.01 → 0.02"},
	{O_SGD, "optimizer adam → sgd"},
	{O_MOMENTUM_KIND, "optimizer adam → momentum"},
	{O_ADAMW, "optimizer adam → adamw (default weight_decay)"},
	{O_MOMENTUM, "momentum 0.9 → 0.5"},
	{O_NESTEROV, "nesterov false → true"},
	{O_BETA1, "beta1 0.9 → 0.8"},
	{O_BETA2, "beta2 0.999 → 0.99"},
	{O_EPS, "eps 1e-8 → 1e-3"},
	{O_WD, "weight_decay 0 → 0.01 (adam)"},
	{O_WD_ADAMW, "weight_decay 0.01 → 0.1 (adamw)"},
	{O_CLIP, "clip_norm 0 → 0.002"},
	{O_LR_DECAY, "lr_decay 1 → 0.7"},
	{O_GAUSSIAN, "noise none → gaussian"},
	{O_MASK, "noise none → mask"},
	{O_NOISE_LEVEL, "noise_level 0.1 → 0.3 (gaussian)"},
	{O_L1, "l1_activity 0 → 0.01"},
	{O_KL, "sparsity_weight 0 → 0.1"},
	{O_KL_TARGET, "sparsity_target 0.05 → 0.2 (sparsity_weight 0.1)"},
	{O_CONTRACTIVE, "contractive 0 → 0.1"},
	{O_CONTRACTIVE_SAMPLES, "contractive_samples 0 → 2 (contractive 0.1)"},
	{O_TIED, "tied false → true"},
	{O_BCE, "loss mse → bce (sigmoid output)"},
	{O_SHUFFLE, "shuffle true → false"},
	{O_VALFRAC, "validation_fraction 0.1 → 0.2"},
	{O_PATIENCE, "patience 0 → 1 (restores an earlier epoch)"},
	{O_SEED, "seed 42 → 7"},
};

static void
OptionSetup(Setup *s)
{
	int			hidden[3] = {6, 3, 6};

	DefaultSetup(s);
	ae_arch_make(&s->arch, D, 3, hidden, AE_ACT_TANH, AE_ACT_SIGMOID, false);
	s->arch.hidden_act[s->arch.code_layer] = AE_ACT_SIGMOID;
}

/* Set up base and changed for one option. */
static void
ApplyOption(Opt o, Setup *base, Setup *chg)
{
	AeTrainConfig *b = &base->cfg;
	AeTrainConfig *c;

	switch (o)
	{
		case O_MOMENTUM:
		case O_NESTEROV:
			ae_optim_defaults(&b->optim, AE_OPT_MOMENTUM);
			b->optim.learning_rate = 0.05f;
			break;
		case O_WD_ADAMW:
			ae_optim_defaults(&b->optim, AE_OPT_ADAMW);
			b->optim.learning_rate = 0.01f;
			break;
		case O_NOISE_LEVEL:
			b->objective.noise = AE_NOISE_GAUSSIAN;
			break;
		case O_KL_TARGET:
			b->objective.sparsity_weight = 0.1f;
			break;
		case O_CONTRACTIVE_SAMPLES:
			b->objective.contractive = 0.1f;
			break;
		case O_PATIENCE:
			/* a large step size makes the training loss wobble so an earlier epoch wins */
			b->validation_fraction = 0.0f;
			b->optim.learning_rate = 0.2f;
			b->epochs = 12;
			break;
		default:
			break;
	}
	*chg = *base;
	c = &chg->cfg;
	switch (o)
	{
		case O_BATCH: c->batch_size = 50; break;
		case O_EPOCHS: c->epochs++; break;
		case O_LR: c->optim.learning_rate = 0.02f; break;
		case O_SGD:
			ae_optim_defaults(&c->optim, AE_OPT_SGD);
			c->optim.learning_rate = 0.01f;
			break;
		case O_MOMENTUM_KIND:
			ae_optim_defaults(&c->optim, AE_OPT_MOMENTUM);
			c->optim.learning_rate = 0.01f;
			break;
		case O_ADAMW:
			ae_optim_defaults(&c->optim, AE_OPT_ADAMW);
			c->optim.learning_rate = 0.01f;
			break;
		case O_MOMENTUM: c->optim.momentum = 0.5f; break;
		case O_NESTEROV: c->optim.nesterov = true; break;
		case O_BETA1: c->optim.beta1 = 0.8f; break;
		case O_BETA2: c->optim.beta2 = 0.99f; break;
		case O_EPS: c->optim.eps = 1e-3f; break;
		case O_WD: c->optim.weight_decay = 0.01f; break;
		case O_WD_ADAMW: c->optim.weight_decay = 0.1f; break;
		case O_CLIP: c->optim.clip_norm = 0.002f; break;
		case O_LR_DECAY: c->optim.lr_decay = 0.7f; break;
		case O_GAUSSIAN: c->objective.noise = AE_NOISE_GAUSSIAN; break;
		case O_MASK: c->objective.noise = AE_NOISE_MASK; break;
		case O_NOISE_LEVEL: c->objective.noise_level = 0.3f; break;
		case O_L1: c->objective.l1_activity = 0.01f; break;
		case O_KL: c->objective.sparsity_weight = 0.1f; break;
		case O_KL_TARGET: c->objective.sparsity_target = 0.2f; break;
		case O_CONTRACTIVE: c->objective.contractive = 0.1f; break;
		case O_CONTRACTIVE_SAMPLES: c->objective.contractive_samples = 2; break;
		case O_TIED: chg->arch.tied = true; break;
		case O_BCE: c->objective.loss = AE_LOSS_BCE; break;
		case O_SHUFFLE: c->shuffle = false; break;
		case O_VALFRAC: c->validation_fraction = 0.2f; break;
		case O_PATIENCE: c->patience = 1; break;
		case O_SEED: c->seed = 7; break;
	}
}

static void
TestEveryOptionMatters(void)
{
	for (size_t k = 0; k < sizeof(option_table) / sizeof(option_table[0]); k++)
	{
		Setup		base,
					chg;
		Run			a,
					b;
		char		err[AE_ERRBUF_SIZE] = "";
		AeModel		probe;
		float	   *tmp;

		OptionSetup(&base);
		ApplyOption(option_table[k].opt, &base, &chg);

		/* both configurations must be valid for their networks */
		tmp = calloc(ae_arch_param_count(&chg.arch), sizeof(float));
		if (ae_model_bind(&probe, &chg.arch, tmp, err) != AE_OK
			|| ae_train_config_validate(&chg.cfg, &probe, err) != AE_OK)
		{
			unit_ok(0, "%s: configuration rejected: %s", option_table[k].name, err);
			free(tmp);
			continue;
		}
		free(tmp);

		DoRun(&base, data, NROWS, NULL, NULL, &a);
		DoRun(&chg, data, NROWS, NULL, NULL, &b);
		if (a.status != AE_OK || b.status != AE_OK)
			unit_ok(0, "%s: training failed: %s%s", option_table[k].name, a.err, b.err);
		else if (option_table[k].opt == O_PATIENCE)
			unit_ok(!SameParams(&a, &b) && b.res.best_epoch < b.res.epochs_run,
					"%s changes the model (kept epoch %d of %d)", option_table[k].name,
					b.res.best_epoch, b.res.epochs_run);
		else
			unit_ok(!SameParams(&a, &b), "%s changes the model", option_table[k].name);
		FreeRun(&a);
		FreeRun(&b);
	}
}

/* ---------------------------------------------------------------- batch sources */

/*
 * A batch source over two arrays: the training rows in order (a copy per
 * batch, as a streaming source makes one) and the validation rows; extra
 * says how many rows it hands out too many (> 0) or too few (< 0).
 */
typedef struct ArraySource
{
	const float *train;
	size_t		n_train;
	const float *val;
	size_t		n_val;
	int			bs;
	int			extra;
	float		buf[64 * D];
} ArraySource;

static int
ArrayBatch(ArraySource *a, const float *rows, size_t n, int batch, const float **out)
{
	size_t		start = (size_t) batch * a->bs;
	int			B;

	if (start >= n)
		return 0;
	B = (int) (n - start < (size_t) a->bs ? n - start : (size_t) a->bs);
	memcpy(a->buf, rows + start * D, sizeof(float) * B * D);
	*out = a->buf;
	return B;
}

static int
ArrayTrainBatch(void *arg, int epoch, int batch, const float **rows)
{
	ArraySource *a = (ArraySource *) arg;
	size_t		n = a->n_train + (a->extra > 0 ? (size_t) a->extra * a->bs : 0) -
		(a->extra < 0 ? (size_t) -a->extra : 0);

	(void) epoch;
	return ArrayBatch(a, a->train, n, batch, rows);
}

static int
ArrayValBatch(void *arg, int epoch, int batch, const float **rows)
{
	ArraySource *a = (ArraySource *) arg;

	(void) epoch;
	return ArrayBatch(a, a->val, a->n_val, batch, rows);
}

static AeStatus
RunSource(const Setup *s, ArraySource *a, Run *r)
{
	AeModel		model;
	AeBatchSource src = {a->n_train, a->n_val, ArrayTrainBatch, ArrayValBatch, a};
	AeRng		noise;

	memset(r, 0, sizeof(*r));
	r->n_params = ae_arch_param_count(&s->arch);
	r->params = calloc(r->n_params, sizeof(float));
	ae_model_bind(&model, &s->arch, r->params, r->err);
	ae_model_init_weights(&model, s->init_seed);
	ae_rng_seed(&noise, 5);
	a->bs = ae_train_batch_rows(&s->cfg, a->n_train);
	r->status = ae_train_batches(&model, &s->cfg, &src, &noise, &unit_allocator, NULL, NULL,
								 &r->res, r->err);
	return r->status;
}

/*
 * ae_train is the epoch loop over an in-memory source: another source
 * handing out the same rows in the same order trains the same model, with
 * the same history; validation rows and early stopping work for any
 * source; a source that hands out too few or too many rows is refused.
 */
static void
TestBatchSource(void)
{
	Setup		s;
	Run			mem,
				src;
	ArraySource a;
	bool		same_history = true;

	DefaultSetup(&s);
	s.cfg.shuffle = false;
	s.cfg.validation_fraction = 0.0f;
	s.cfg.batch_size = 64;
	s.cfg.epochs = 4;
	DoRun(&s, data, NROWS, NULL, NULL, &mem);
	memset(&a, 0, sizeof(a));
	a.train = data;
	a.n_train = NROWS;
	RunSource(&s, &a, &src);
	unit_ok(mem.status == AE_OK && src.status == AE_OK && SameParams(&mem, &src),
			"a batch source with the rows in order trains what ae_train does, bit for bit (%s)",
			src.status ? src.err : "ok");
	for (int e = 0; e < 4 && src.status == AE_OK; e++)
		same_history &= mem.res.history[e].train_loss == src.res.history[e].train_loss &&
			isnan(src.res.history[e].val_loss);
	unit_ok(same_history && src.res.epochs_run == 4 && src.res.n_train == NROWS,
			"and the same history, without validation losses");
	FreeRun(&mem);
	FreeRun(&src);

	/* the last 100 rows validate; patience 2 over 60 epochs at a high learning rate */
	s.cfg.epochs = 60;
	s.cfg.patience = 2;
	s.cfg.optim.learning_rate = 0.05f;
	memset(&a, 0, sizeof(a));
	a.train = data;
	a.n_train = NROWS - 100;
	a.val = data + (NROWS - 100) * D;
	a.n_val = 100;
	RunSource(&s, &a, &src);
	if (src.status == AE_OK)
	{
		const AeEpochStats *h = src.res.history;
		int			best = 1;

		for (int e = 1; e <= src.res.epochs_run; e++)
			if (h[e - 1].val_loss < h[best - 1].val_loss)
				best = e;
		unit_ok(src.res.n_val == 100 && isfinite(h[0].val_loss) &&
				src.res.best_epoch == best && src.res.val_loss == h[best - 1].val_loss,
				"validation rows from the source: the kept epoch (%d) has the lowest validation loss",
				src.res.best_epoch);
		unit_ok(src.res.epochs_run < 60 ? src.res.epochs_run - best == 2 : true,
				"early stopping after 2 epochs without improvement (ran %d)", src.res.epochs_run);
	}
	else
		unit_ok(false, "training from a source with validation rows: %s", src.err);
	FreeRun(&src);

	s.cfg.epochs = 2;
	s.cfg.patience = 0;
	a.extra = -1;
	unit_ok(RunSource(&s, &a, &src) == AE_ERR_DATA && strstr(src.err, "did not hand out") != NULL,
			"a source that hands out a row too few is refused: %s", src.err);
	FreeRun(&src);
	a.extra = 1;
	unit_ok(RunSource(&s, &a, &src) == AE_ERR_DATA && strstr(src.err, "did not hand out") != NULL,
			"a source that hands out a batch too many is refused: %s", src.err);
	FreeRun(&src);
}

int
main(void)
{
	MakeData(data, NROWS, 2024);
	TestLearns();
	TestMatchesManualLoop();
	TestBatchSource();
	TestDeterminism();
	TestValidation();
	TestEarlyStopping();
	TestCallback();
	TestErrors();
	TestMemory();
	TestEveryOptionMatters();
	return unit_done();
}
