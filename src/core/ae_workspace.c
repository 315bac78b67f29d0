/*
 * ae_workspace.c — the scratch memory of forward/backward on a batch: one
 * allocation carved into the activations and deltas of every layer, and
 * the contractive penalty's tangent buffers when the objective has one
 * (ae_contractive_layout).
 */
#include <stdint.h>
#include <string.h>

#include "ae_nn_int.h"

/* Lays out the forward/backward buffers from base (NULL: only count). */
static size_t
Layout(const AeModel *model, int max_batch, AeWorkspace *ws, float *base)
{
	float	   *cur = base;
	int			widest = ae_arch_widest(&model->arch);

	for (int l = 0; l < model->n_layers; l++)
	{
		float	   *p = ae_carve(&cur, (size_t) max_batch * model->dims[l + 1]);

		if (base)
			ws->act[l] = p;
	}
	for (int i = 0; i < 2; i++)
	{
		float	   *p = ae_carve(&cur, (size_t) max_batch * widest);

		if (base)
			ws->delta[i] = p;
	}
	{
		float	   *p = ae_carve(&cur, ae_code_width(model));

		if (base)
			ws->kl_grad = p;
	}
	return (size_t) (cur - base);
}

AeWorkspace *
ae_workspace_create(const AeModel *model, const AeObjective *obj, int max_batch,
					const AeAllocator *al)
{
	AeWorkspace *ws;
	bool		contractive = obj && obj->contractive > 0.0f;
	int			samples = obj ? obj->contractive_samples : 0;
	size_t		n_main,
				n_contr = 0,
				bytes;
	char	   *raw;
	float	   *base;

	if (max_batch < 1)
		return NULL;
	n_main = Layout(model, max_batch, NULL, NULL);
	if (contractive)
		n_contr = ae_contractive_layout(model, samples, max_batch, NULL, NULL);
	bytes = sizeof(AeWorkspace) + 64 + (n_main + n_contr) * sizeof(float);
	raw = ae_alloc(al, bytes);
	if (raw == NULL)
		return NULL;
	ws = (AeWorkspace *) raw;
	memset(ws, 0, sizeof(*ws));
	ws->block = raw;
	ws->max_batch = max_batch;
	ws->bw_next = -1;
	base = (float *) (((uintptr_t) (raw + sizeof(AeWorkspace)) + 63) & ~(uintptr_t) 63);
	Layout(model, max_batch, ws, base);
	if (contractive)
	{
		ws->has_contractive = true;
		ws->c_samples = samples;
		ae_contractive_layout(model, samples, max_batch, ws, base + n_main);
	}
	return ws;
}

void
ae_workspace_destroy(AeWorkspace *ws, const AeAllocator *al)
{
	if (ws)
		ae_free(al, ws->block);
}
