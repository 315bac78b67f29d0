/*
 * ref_driver.c — the C side of the PyTorch reference test.
 *
 * Reads cases written by torch_reference.py (architecture, objective,
 * optimiser, initial weights, per-step batches), runs the core's
 * ae_loss_grad + ae_optim_step on each and writes what it got: the loss
 * parts of every step, the gradient of the first step and the final weights.
 * The Python script does the same in PyTorch and compares.
 *
 * Input, one whitespace-separated token stream per case:
 *   case NAME
 *   arch d k h_1..h_k act_1..act_k output_act code_layer tied
 *   objective loss l1 sparsity_weight sparsity_target contractive
 *   groups P G width_1..width_G weight_1..weight_{P+G}   (0 0: a numeric model)
 *   optim kind lr momentum nesterov beta1 beta2 eps weight_decay clip lr_decay
 *   steps S B epoch_every
 *   params n p_1..p_n
 *   target S·B·d values      (what each step must reproduce)
 *   input S·B·d values       (what each step sees; a corrupted copy for denoising)
 * Output per case:
 *   case NAME
 *   loss s total recon l1 kl contractive     (s = 1..S, before that step's update)
 *   grad n g_1..g_n                           (step 1)
 *   params n p_1..p_n                         (after S steps)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae_groups.h"
#include "ae_names.h"
#include "ae_nn.h"
#include "ae_optim.h"
#include "unit.h"

static void
Die(const char *msg, const char *detail)
{
	fprintf(stderr, "ref_driver: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
	exit(2);
}

static void
Expect(FILE *f, const char *word)
{
	char		tok[64];

	if (fscanf(f, "%63s", tok) != 1 || strcmp(tok, word) != 0)
		Die("expected", word);
}

static float *
ReadFloats(FILE *f, size_t n)
{
	float	   *v = malloc((n ? n : 1) * sizeof(float));

	for (size_t i = 0; i < n; i++)
		if (fscanf(f, "%f", &v[i]) != 1)
			Die("short float list", NULL);
	return v;
}

static void
WriteFloats(FILE *out, const char *tag, const float *v, size_t n)
{
	fprintf(out, "%s %zu", tag, n);
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %.9g", v[i]);
	fprintf(out, "\n");
}

static bool
RunCase(FILE *in, FILE *out)
{
	char		name[128],
				tok[64],
				err[AE_ERRBUF_SIZE];
	AeArch		arch;
	AeModel		model;
	AeObjective obj;
	AeOptimConfig oc;
	int			kind;
	AeOptimizer opt;
	AeWorkspace *ws;
	AeRng		rng;
	int			d,
				k,
				hidden[AE_MAX_HIDDEN],
				code,
				tied,
				nesterov,
				S,
				B,
				epoch_every;
	size_t		n;
	float	   *params,
			   *grad,
			   *target,
			   *input;
	AeGroups	groups = {0};

	if (fscanf(in, "%63s", tok) != 1)
		return false;
	if (strcmp(tok, "case") != 0 || fscanf(in, "%127s", name) != 1)
		Die("expected case", tok);

	Expect(in, "arch");
	if (fscanf(in, "%d %d", &d, &k) != 2 || k < 1 || k > AE_MAX_HIDDEN)
		Die("bad arch", name);
	for (int i = 0; i < k; i++)
		if (fscanf(in, "%d", &hidden[i]) != 1)
			Die("bad widths", name);
	ae_arch_make(&arch, d, k, hidden, AE_ACT_TANH, AE_ACT_LINEAR, false);
	for (int i = 0; i < k; i++)
		if (fscanf(in, "%63s", tok) != 1 || !ae_activation_parse(tok, &arch.hidden_act[i]))
			Die("bad activation", tok);
	if (fscanf(in, "%63s %d %d", tok, &code, &tied) != 3 || !ae_activation_parse(tok, &arch.output_act))
		Die("bad output activation", tok);
	arch.code_layer = code;
	arch.tied = tied != 0;

	ae_objective_defaults(&obj);
	Expect(in, "objective");
	if (fscanf(in, "%63s %f %f %f %f", tok, &obj.l1_activity, &obj.sparsity_weight,
			   &obj.sparsity_target, &obj.contractive) != 5)
		Die("bad objective", name);
	if (!ae_name_parse(ae_loss_names, tok, &kind))
		Die("bad loss", tok);
	obj.loss = (AeLoss) kind;

	Expect(in, "groups");
	if (fscanf(in, "%d %d", &groups.n_plain, &groups.n_groups) != 2 || groups.n_plain < 0 ||
		groups.n_groups < 0 || groups.n_groups > d)
		Die("bad groups", name);
	if (groups.n_plain + groups.n_groups > 0)
	{
		int			start = groups.n_plain;

		groups.groups = malloc(sizeof(AeGroup) * (groups.n_groups + 1));
		for (int i = 0; i < groups.n_groups; i++)
		{
			if (fscanf(in, "%d", &groups.groups[i].width) != 1)
				Die("bad group width", name);
			groups.groups[i].start = start;
			start += groups.groups[i].width;
		}
		groups.weights = ReadFloats(in, (size_t) (groups.n_plain + groups.n_groups));
	}

	Expect(in, "optim");
	if (fscanf(in, "%63s", tok) != 1 || !ae_name_parse(ae_optimizer_names, tok, &kind))
		Die("bad optimizer", tok);
	ae_optim_defaults(&oc, (AeOptimizerKind) kind);
	if (fscanf(in, "%f %f %d %f %f %f %f %f %f", &oc.learning_rate, &oc.momentum, &nesterov,
			   &oc.beta1, &oc.beta2, &oc.eps, &oc.weight_decay, &oc.clip_norm, &oc.lr_decay) != 9)
		Die("bad optimizer options", name);
	oc.nesterov = nesterov != 0;

	Expect(in, "steps");
	if (fscanf(in, "%d %d %d", &S, &B, &epoch_every) != 3)
		Die("bad steps", name);
	Expect(in, "params");
	if (fscanf(in, "%zu", &n) != 1 || n != ae_arch_param_count(&arch))
		Die("parameter count does not match the architecture", name);
	params = ReadFloats(in, n);
	Expect(in, "target");
	target = ReadFloats(in, (size_t) S * B * d);
	Expect(in, "input");
	input = ReadFloats(in, (size_t) S * B * d);

	if (ae_arch_validate(&arch, err) != AE_OK || ae_model_bind(&model, &arch, params, err) != AE_OK
		|| ae_objective_validate(&obj, &model, err) != AE_OK || ae_optim_validate(&oc, err) != AE_OK)
		Die(name, err);
	if (ae_groups_present(&groups) && ae_model_set_groups(&model, &groups, err) != AE_OK)
		Die(name, err);
	ws = ae_workspace_create(&model, &obj, B, &unit_allocator);
	grad = malloc(n * sizeof(float));
	if (ws == NULL || ae_optim_create(&opt, &oc, n, &unit_allocator) != AE_OK)
		Die("out of memory", name);
	ae_rng_seed(&rng, 1);

	fprintf(out, "case %s\n", name);
	for (int s = 0; s < S; s++)
	{
		AeLossParts parts;
		AeStatus	st;
		size_t		off = (size_t) s * B * d;

		st = ae_loss_grad(&model, ws, &obj, input + off, target + off, B, grad, &parts, &rng);
		if (st != AE_OK)
			Die(name, ae_status_string(st));
		fprintf(out, "loss %d %.9g %.9g %.9g %.9g %.9g\n", s + 1, parts.total, parts.recon,
				parts.l1, parts.kl, parts.contractive);
		if (s == 0)
			WriteFloats(out, "grad", grad, n);
		ae_optim_step(&opt, params, grad, NULL);
		if (epoch_every > 0 && (s + 1) % epoch_every == 0)
			ae_optim_epoch_end(&opt);
	}
	WriteFloats(out, "params", params, n);

	ae_optim_destroy(&opt, &unit_allocator);
	ae_workspace_destroy(ws, &unit_allocator);
	free(grad);
	free(params);
	free(target);
	free(input);
	free(groups.groups);
	free(groups.weights);
	return true;
}

int
main(int argc, char **argv)
{
	FILE	   *in,
			   *out;

	if (argc != 3)
	{
		fprintf(stderr, "usage: ref_driver CASES OUTPUT\n");
		return 2;
	}
	in = fopen(argv[1], "r");
	out = fopen(argv[2], "w");
	if (in == NULL || out == NULL)
		Die("cannot open", in == NULL ? argv[1] : argv[2]);
	while (RunCase(in, out))
		;
	fclose(in);
	return fclose(out) == 0 ? 0 : 2;
}
