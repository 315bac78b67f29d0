/*
 * test_optim.c — every optimiser against values worked out by hand and
 * against an independent double-precision transcription of torch.optim's
 * update rules: SGD, momentum, Nesterov, Adam, AdamW, coupled versus
 * decoupled weight decay, global-norm clipping and the per-epoch decay.
 */
#include <string.h>

#include "ae_names.h"
#include "ae_optim.h"
#include "ae_rng.h"
#include "unit.h"

#define N 5

/* The reference: the formulas of the torch.optim 1.13 docs, in double. */
typedef struct Ref
{
	double		p[N],
				m[N],
				v[N];
	double		lr;
	long		t;
} Ref;

static void
RefStep(Ref *r, const AeOptimConfig *c, const float *grad)
{
	double		g[N],
				norm = 0.0,
				coef = 1.0;

	for (int i = 0; i < N; i++)
		norm += (double) grad[i] * grad[i];
	norm = sqrt(norm);
	if (c->clip_norm > 0 && c->clip_norm / (norm + 1e-6) < 1.0)
		coef = c->clip_norm / (norm + 1e-6);
	r->t++;
	for (int i = 0; i < N; i++)
	{
		g[i] = grad[i] * coef;
		if (c->kind != AE_OPT_ADAMW)
			g[i] += c->weight_decay * r->p[i];
		switch (c->kind)
		{
			case AE_OPT_SGD:
				r->p[i] -= r->lr * g[i];
				break;
			case AE_OPT_MOMENTUM:
				r->m[i] = (r->t == 1) ? g[i] : c->momentum * r->m[i] + g[i];
				r->p[i] -= r->lr * (c->nesterov ? g[i] + c->momentum * r->m[i] : r->m[i]);
				break;
			case AE_OPT_ADAM:
			case AE_OPT_ADAMW:
				{
					double		mhat,
								vhat;

					if (c->kind == AE_OPT_ADAMW)
						r->p[i] *= 1.0 - r->lr * c->weight_decay;
					r->m[i] = c->beta1 * r->m[i] + (1.0 - c->beta1) * g[i];
					r->v[i] = c->beta2 * r->v[i] + (1.0 - c->beta2) * g[i] * g[i];
					mhat = r->m[i] / (1.0 - pow(c->beta1, r->t));
					vhat = r->v[i] / (1.0 - pow(c->beta2, r->t));
					r->p[i] -= r->lr * mhat / (sqrt(vhat) + c->eps);
				}
				break;
		}
	}
}

/* Run steps of both and return the max relative parameter difference. */
static double
CompareSteps(const AeOptimConfig *cfg, int steps, int epochs_per_decay, float *final)
{
	AeOptimizer opt;
	Ref			r;
	float		p[N],
				g[N];
	UnitNormal	rng;
	double		maxrel = 0.0;

	memset(&r, 0, sizeof(r));
	unit_normal_seed(&rng, 99);
	for (int i = 0; i < N; i++)
	{
		p[i] = (float) (ae_rng_uniform(&rng.rng) * 2 - 1);
		r.p[i] = p[i];
	}
	r.lr = cfg->learning_rate;
	if (ae_optim_create(&opt, cfg, N, &unit_allocator) != AE_OK)
		return INFINITY;
	for (int s = 0; s < steps; s++)
	{
		for (int i = 0; i < N; i++)
			g[i] = (float) (unit_normal(&rng) * 2.0);
		RefStep(&r, cfg, g);
		ae_optim_step(&opt, p, g, NULL);
		if (epochs_per_decay > 0 && (s + 1) % epochs_per_decay == 0)
		{
			ae_optim_epoch_end(&opt);
			r.lr *= cfg->lr_decay;
		}
	}
	for (int i = 0; i < N; i++)
		maxrel = fmax(maxrel, fabs(p[i] - r.p[i]) / fmax(fabs(r.p[i]), 1e-3));
	if (final)
		memcpy(final, p, sizeof(p));
	ae_optim_destroy(&opt, &unit_allocator);
	return maxrel;
}

static void
TestHandValues(void)
{
	AeOptimConfig c;
	AeOptimizer opt;
	float		p[2],
				g[2];
	double		norm;

	/* SGD: p − lr·g */
	ae_optim_defaults(&c, AE_OPT_SGD);
	c.learning_rate = 0.1f;
	ae_optim_create(&opt, &c, 2, &unit_allocator);
	unit_ok(opt.m == NULL && opt.v == NULL, "sgd allocates no moment buffers");
	p[0] = 1.0f; p[1] = -2.0f;
	g[0] = 0.5f; g[1] = 0.25f;
	ae_optim_step(&opt, p, g, &norm);
	unit_ok(unit_close(p[0], 0.95, 1e-7, 0) && unit_close(p[1], -2.025, 1e-7, 0),
			"sgd step: (1, -2) - 0.1 (0.5, 0.25) = (0.95, -2.025): got (%.7g, %.7g)", p[0], p[1]);
	unit_ok(unit_close(norm, sqrt(0.3125), 1e-12, 0), "grad_norm is the norm of the gradient");
	ae_optim_destroy(&opt, &unit_allocator);

	/* SGD with coupled weight decay 0.5: g = (0.5 + 0.5, 0.25 − 1) */
	c.weight_decay = 0.5f;
	ae_optim_create(&opt, &c, 2, &unit_allocator);
	p[0] = 1.0f; p[1] = -2.0f;
	g[0] = 0.5f; g[1] = 0.25f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(p[0], 0.9, 1e-7, 0) && unit_close(p[1], -1.925, 1e-7, 0),
			"sgd weight decay: (0.9, -1.925): got (%.7g, %.7g)", p[0], p[1]);
	ae_optim_destroy(&opt, &unit_allocator);

	/* momentum 0.9, constant g = 1: steps of lr·1 then lr·1.9 */
	ae_optim_defaults(&c, AE_OPT_MOMENTUM);
	c.learning_rate = 0.1f;
	ae_optim_create(&opt, &c, 1, &unit_allocator);
	unit_ok(opt.m != NULL && opt.v == NULL, "momentum allocates only the momentum buffer");
	p[0] = 0.0f;
	g[0] = 1.0f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(p[0], -0.1, 1e-7, 0), "momentum step 1: b = g, p = -0.1 (got %.7g)", p[0]);
	g[0] = 1.0f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(p[0], -0.29, 1e-7, 0), "momentum step 2: b = 1.9, p = -0.29 (got %.7g)", p[0]);
	ae_optim_destroy(&opt, &unit_allocator);

	/* Nesterov: steps of lr·(1 + 0.9) then lr·(1 + 0.9·1.9) */
	c.nesterov = true;
	ae_optim_create(&opt, &c, 1, &unit_allocator);
	p[0] = 0.0f;
	g[0] = 1.0f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(p[0], -0.19, 1e-7, 0), "nesterov step 1: p = -0.19 (got %.7g)", p[0]);
	g[0] = 1.0f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(p[0], -0.19 - 0.271, 1e-7, 0), "nesterov step 2: p = -0.461 (got %.7g)", p[0]);
	ae_optim_destroy(&opt, &unit_allocator);

	/* Adam's first step moves every weight by lr·g/(|g| + eps) ≈ lr·sign(g) */
	ae_optim_defaults(&c, AE_OPT_ADAM);
	c.learning_rate = 0.01f;
	ae_optim_create(&opt, &c, 2, &unit_allocator);
	unit_ok(opt.m != NULL && opt.v != NULL, "adam allocates both moment buffers");
	p[0] = 1.0f; p[1] = 1.0f;
	g[0] = 3.0f; g[1] = -0.001f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(p[0], 0.99, 1e-6, 0) && unit_close(p[1], 1.01, 1e-6, 0),
			"adam step 1 is lr·sign(g): (0.99, 1.01): got (%.7g, %.7g)", p[0], p[1]);
	ae_optim_destroy(&opt, &unit_allocator);

	/* AdamW: p ← p(1 − lr·wd) first; with g = 0, m = v = 0 so only the decay acts */
	ae_optim_defaults(&c, AE_OPT_ADAMW);
	c.learning_rate = 0.1f;
	c.weight_decay = 0.5f;
	ae_optim_create(&opt, &c, 1, &unit_allocator);
	p[0] = 4.0f;
	g[0] = 0.0f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(p[0], 3.8, 1e-6, 0), "adamw with zero gradient only decays: 4·(1 − 0.05) = 3.8 (got %.7g)", p[0]);
	ae_optim_destroy(&opt, &unit_allocator);

	/* Adam with the same decay folds it into g: first step is lr·sign(wd·p) */
	c.kind = AE_OPT_ADAM;
	ae_optim_create(&opt, &c, 1, &unit_allocator);
	p[0] = 4.0f;
	g[0] = 0.0f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(p[0], 3.9, 1e-6, 0), "adam folds the decay into g = wd·p = 2, first step lr·sign: 3.9 (got %.7g)", p[0]);
	ae_optim_destroy(&opt, &unit_allocator);

	/* clipping: g = (3, 4), ‖g‖ = 5, clip 1 → g/5 */
	ae_optim_defaults(&c, AE_OPT_SGD);
	c.learning_rate = 1.0f;
	c.clip_norm = 1.0f;
	ae_optim_create(&opt, &c, 2, &unit_allocator);
	p[0] = 0.0f; p[1] = 0.0f;
	g[0] = 3.0f; g[1] = 4.0f;
	ae_optim_step(&opt, p, g, &norm);
	unit_ok(unit_close(p[0], -0.6, 1e-6, 0) && unit_close(p[1], -0.8, 1e-6, 0),
			"clip_norm 1 scales (3, 4) to (0.6, 0.8): got (%.7g, %.7g)", -p[0], -p[1]);
	unit_ok(unit_close(norm, 5.0, 1e-12, 0), "grad_norm reports the norm before clipping (%.7g)", norm);
	ae_optim_destroy(&opt, &unit_allocator);

	c.clip_norm = 10.0f;
	ae_optim_create(&opt, &c, 2, &unit_allocator);
	p[0] = 0.0f; p[1] = 0.0f;
	g[0] = 3.0f; g[1] = 4.0f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(p[0] == -3.0f && p[1] == -4.0f, "a gradient below clip_norm is left exactly as it is");
	ae_optim_destroy(&opt, &unit_allocator);

	/* lr decay: ExponentialLR, one factor per epoch */
	ae_optim_defaults(&c, AE_OPT_SGD);
	c.learning_rate = 0.1f;
	c.lr_decay = 0.5f;
	ae_optim_create(&opt, &c, 1, &unit_allocator);
	ae_optim_epoch_end(&opt);
	ae_optim_epoch_end(&opt);
	p[0] = 0.0f;
	g[0] = 1.0f;
	ae_optim_step(&opt, p, g, NULL);
	unit_ok(unit_close(opt.lr, 0.025, 1e-9, 0) && unit_close(p[0], -0.025, 1e-8, 0),
			"lr_decay 0.5 after two epochs: lr 0.025, step -0.025 (got %.7g)", p[0]);
	ae_optim_destroy(&opt, &unit_allocator);
}

static void
TestAgainstReference(void)
{
	static const struct
	{
		const char *name;
		AeOptimizerKind kind;
		float		lr,
					momentum;
		bool		nesterov;
		float		beta1,
					beta2,
					eps,
					wd,
					clip,
					decay;
	}			cases[] =
	{
		{"sgd", AE_OPT_SGD, 0.05f, 0, false, 0, 0, 0, 0, 0, 1},
		{"sgd + weight decay", AE_OPT_SGD, 0.05f, 0, false, 0, 0, 0, 0.1f, 0, 1},
		{"momentum", AE_OPT_MOMENTUM, 0.05f, 0.9f, false, 0, 0, 0, 0, 0, 1},
		{"momentum 0.5 + weight decay", AE_OPT_MOMENTUM, 0.05f, 0.5f, false, 0, 0, 0, 0.1f, 0, 1},
		{"nesterov", AE_OPT_MOMENTUM, 0.05f, 0.9f, true, 0, 0, 0, 0, 0, 1},
		{"adam", AE_OPT_ADAM, 0.01f, 0, false, 0.9f, 0.999f, 1e-8f, 0, 0, 1},
		{"adam betas 0.5/0.9, eps 0.1", AE_OPT_ADAM, 0.01f, 0, false, 0.5f, 0.9f, 0.1f, 0, 0, 1},
		{"adam + coupled weight decay", AE_OPT_ADAM, 0.01f, 0, false, 0.9f, 0.999f, 1e-8f, 0.3f, 0, 1},
		{"adamw", AE_OPT_ADAMW, 0.01f, 0, false, 0.9f, 0.999f, 1e-8f, 0.3f, 0, 1},
		{"adam + clipping", AE_OPT_ADAM, 0.01f, 0, false, 0.9f, 0.999f, 1e-8f, 0, 1.0f, 1},
		{"momentum + clipping + weight decay", AE_OPT_MOMENTUM, 0.05f, 0.9f, false, 0, 0, 0, 0.1f, 0.5f, 1},
		{"sgd + lr decay", AE_OPT_SGD, 0.05f, 0, false, 0, 0, 0, 0, 0, 0.8f},
		{"adamw + lr decay + clipping", AE_OPT_ADAMW, 0.01f, 0, false, 0.9f, 0.99f, 1e-6f, 0.05f, 2.0f, 0.9f},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
	{
		AeOptimConfig c;
		char		err[AE_ERRBUF_SIZE];
		double		rel;

		ae_optim_defaults(&c, cases[k].kind);
		c.learning_rate = cases[k].lr;
		c.momentum = cases[k].momentum;
		c.nesterov = cases[k].nesterov;
		if (cases[k].kind == AE_OPT_ADAM || cases[k].kind == AE_OPT_ADAMW)
		{
			c.beta1 = cases[k].beta1;
			c.beta2 = cases[k].beta2;
			c.eps = cases[k].eps;
		}
		c.weight_decay = cases[k].wd;
		c.clip_norm = cases[k].clip;
		c.lr_decay = cases[k].decay;
		if (ae_optim_validate(&c, err) != AE_OK)
		{
			unit_ok(0, "%s: config rejected: %s", cases[k].name, err);
			continue;
		}
		rel = CompareSteps(&c, 20, 4, NULL);
		unit_ok(rel < 2e-5, "%s: 20 steps match the double-precision rules (max rel diff %.2e)",
				cases[k].name, rel);
	}
}

static void
TestOptionsMatter(void)
{
	AeOptimConfig a,
				b;
	float		pa[N],
				pb[N];

	/* coupled (Adam) and decoupled (AdamW) decay give different weights */
	ae_optim_defaults(&a, AE_OPT_ADAM);
	a.weight_decay = 0.3f;
	b = a;
	b.kind = AE_OPT_ADAMW;
	CompareSteps(&a, 10, 0, pa);
	CompareSteps(&b, 10, 0, pb);
	unit_ok(memcmp(pa, pb, sizeof(pa)) != 0, "adam and adamw with the same weight_decay differ");

	ae_optim_defaults(&a, AE_OPT_MOMENTUM);
	b = a;
	b.nesterov = true;
	CompareSteps(&a, 10, 0, pa);
	CompareSteps(&b, 10, 0, pb);
	unit_ok(memcmp(pa, pb, sizeof(pa)) != 0, "nesterov changes the momentum update");
}

static void
TestValidateAndNames(void)
{
	AeOptimConfig c;
	int			k;
	char		err[AE_ERRBUF_SIZE];
	bool		names_ok = true;

	for (int i = AE_OPT_SGD; i <= AE_OPT_ADAMW; i++)
	{
		ae_optim_defaults(&c, (AeOptimizerKind) i);
		names_ok &= ae_optim_validate(&c, err) == AE_OK;
		names_ok &= ae_name_parse(ae_optimizer_names, ae_optimizer_name((AeOptimizerKind) i), &k) && k == i;
	}
	unit_ok(names_ok, "defaults validate and every name parses back");
	unit_ok(!ae_name_parse(ae_optimizer_names, "rmsprop", &k), "unknown optimizer name is rejected");
	ae_optim_defaults(&c, AE_OPT_ADAM);
	unit_ok(c.learning_rate == 1e-3f && c.beta1 == 0.9f && c.beta2 == 0.999f && c.eps == 1e-8f
			&& c.weight_decay == 0.0f, "adam defaults are torch's");
	ae_optim_defaults(&c, AE_OPT_ADAMW);
	unit_ok(c.weight_decay == 1e-2f, "adamw default weight_decay is torch's 0.01");
	ae_optim_defaults(&c, AE_OPT_SGD);
	unit_ok(c.learning_rate == 1e-2f, "sgd default learning_rate 0.01");

	c.learning_rate = 0.0f;
	unit_ok(ae_optim_validate(&c, err) == AE_ERR_CONFIG && strstr(err, "learning_rate"),
			"learning_rate 0 rejected: %s", err);
	ae_optim_defaults(&c, AE_OPT_SGD);
	c.nesterov = true;
	unit_ok(ae_optim_validate(&c, err) == AE_ERR_CONFIG && strstr(err, "nesterov"),
			"nesterov without momentum optimizer rejected: %s", err);
	ae_optim_defaults(&c, AE_OPT_ADAM);
	c.beta2 = 1.0f;
	unit_ok(ae_optim_validate(&c, err) == AE_ERR_CONFIG && strstr(err, "beta2"),
			"beta2 1 rejected: %s", err);
	ae_optim_defaults(&c, AE_OPT_ADAM);
	c.lr_decay = 0.0f;
	unit_ok(ae_optim_validate(&c, err) == AE_ERR_CONFIG && strstr(err, "lr_decay"),
			"lr_decay 0 rejected: %s", err);
	ae_optim_defaults(&c, AE_OPT_ADAM);
	c.weight_decay = NAN;
	unit_ok(ae_optim_validate(&c, err) == AE_ERR_CONFIG && strstr(err, "weight_decay"),
			"weight_decay NaN rejected: %s", err);
	ae_optim_defaults(&c, AE_OPT_ADAM);
	c.clip_norm = -1.0f;
	unit_ok(ae_optim_validate(&c, err) == AE_ERR_CONFIG && strstr(err, "clip_norm"),
			"clip_norm -1 rejected: %s", err);
	ae_optim_defaults(&c, AE_OPT_ADAM);
	c.eps = 0.0f;
	unit_ok(ae_optim_validate(&c, err) == AE_ERR_CONFIG && strstr(err, "eps"),
			"eps 0 rejected: %s", err);
}

/*
 * The vectorised Adam loop must give exactly what the scalar loop gives:
 * one optimiser over 11 parameters (two SIMD blocks and a scalar tail)
 * against 11 one-parameter optimisers (scalar only).
 */
static void
TestVectorEqualsScalar(void)
{
	enum {M = 11};
	AeOptimizerKind kinds[2] = {AE_OPT_ADAM, AE_OPT_ADAMW};

	for (int k = 0; k < 2; k++)
	{
		AeOptimConfig c;
		AeOptimizer whole,
					single[M];
		float		p[M],
					q[M],
					g[M],
					h[M];
		UnitNormal	rng;

		ae_optim_defaults(&c, kinds[k]);
		c.learning_rate = 0.01f;
		c.weight_decay = 0.05f;
		unit_normal_seed(&rng, 3);
		for (int i = 0; i < M; i++)
			p[i] = q[i] = (float) unit_normal(&rng);
		ae_optim_create(&whole, &c, M, &unit_allocator);
		for (int i = 0; i < M; i++)
			ae_optim_create(&single[i], &c, 1, &unit_allocator);
		for (int s = 0; s < 25; s++)
		{
			for (int i = 0; i < M; i++)
				g[i] = h[i] = (float) unit_normal(&rng);
			ae_optim_step(&whole, p, g, NULL);
			for (int i = 0; i < M; i++)
				ae_optim_step(&single[i], &q[i], &h[i], NULL);
		}
		unit_ok(memcmp(p, q, sizeof(p)) == 0,
				"%s: the vectorised update is bit-identical to the scalar one",
				ae_optimizer_name(kinds[k]));
		ae_optim_destroy(&whole, &unit_allocator);
		for (int i = 0; i < M; i++)
			ae_optim_destroy(&single[i], &unit_allocator);
	}
}

/*
 * A step in parts (ae_optim_begin, then ae_optim_update over ranges in any
 * order, cut at odd places inside the four-wide loop) is ae_optim_step bit
 * for bit; clipping needs the whole gradient and is refused.
 */
static void
TestStepInParts(void)
{
	enum {NP = 103};
	static const AeOptimizerKind kinds[] = {AE_OPT_SGD, AE_OPT_MOMENTUM, AE_OPT_ADAM, AE_OPT_ADAMW};

	for (int k = 0; k < 4; k++)
	{
		AeOptimConfig c;
		AeOptimizer whole,
					parts;
		float		p[NP],
					q[NP],
					g[NP];
		UnitNormal	rng;
		bool		begun = true;

		ae_optim_defaults(&c, kinds[k]);
		c.learning_rate = 0.01f;
		c.weight_decay = 0.05f;
		c.nesterov = kinds[k] == AE_OPT_MOMENTUM;
		unit_normal_seed(&rng, 5);
		for (int i = 0; i < NP; i++)
			p[i] = q[i] = (float) unit_normal(&rng);
		ae_optim_create(&whole, &c, NP, &unit_allocator);
		ae_optim_create(&parts, &c, NP, &unit_allocator);
		for (int s = 0; s < 20; s++)
		{
			for (int i = 0; i < NP; i++)
				g[i] = (float) unit_normal(&rng);
			ae_optim_step(&whole, p, g, NULL);
			begun &= ae_optim_begin(&parts) == AE_OK;
			ae_optim_update(&parts, q, g, 61, NP);
			ae_optim_update(&parts, q, g, 7, 61);
			ae_optim_update(&parts, q, g, 0, 7);
			if (s % 5 == 4)
				ae_optim_epoch_end(&whole), ae_optim_epoch_end(&parts);
		}
		unit_ok(begun && memcmp(p, q, sizeof(p)) == 0 && whole.step == parts.step,
				"%s: a step in three parts is the whole step's bits, 20 steps",
				ae_optimizer_name(kinds[k]));
		ae_optim_destroy(&whole, &unit_allocator);
		ae_optim_destroy(&parts, &unit_allocator);
		c.clip_norm = 1.0f;
		ae_optim_create(&parts, &c, NP, &unit_allocator);
		unit_ok(ae_optim_begin(&parts) == AE_ERR_CONFIG && parts.step == 0,
				"%s: clipping needs the whole gradient, so a step in parts is refused",
				ae_optimizer_name(kinds[k]));
		ae_optim_destroy(&parts, &unit_allocator);
	}
}

int
main(void)
{
	TestHandValues();
	TestAgainstReference();
	TestOptionsMatter();
	TestVectorEqualsScalar();
	TestStepInParts();
	TestValidateAndNames();
	return unit_done();
}
