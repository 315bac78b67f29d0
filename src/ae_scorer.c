/*
 * ae_scorer.c — an AeScorer bound to a cached model: creation, the
 * per-statement binding of model names (permission checks once per
 * statement and call site) and the buffers sized for the bound model.
 *
 * Loading a row is in ae_score_input.c; running the network and reducing
 * its output in ae_score_output.c.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "ae_catalog.h"
#include "ae_infer.h"
#include "ae_scorer.h"

/* ---------------------------------------------------------------- binding */

static void
ReleaseBindings(AeScorer *s)
{
	for (int i = 0; i < s->n_bindings; i++)
		ae_cache_unpin(s->bindings[i].entry);
	s->n_bindings = 0;
	s->current = NULL;
	s->entry = NULL;
	s->name = NULL;
}

static void
ScorerReset(void *arg)
{
	/* runs while the context goes away, possibly during abort: no errors */
	ReleaseBindings((AeScorer *) arg);
}

AeScorer *
ae_scorer_create(MemoryContext mcxt)
{
	AeScorer   *s = MemoryContextAllocZero(mcxt, sizeof(AeScorer));

	s->mcxt = mcxt;
	s->reset_cb.func = ScorerReset;
	s->reset_cb.arg = s;
	MemoryContextRegisterResetCallback(mcxt, &s->reset_cb);
	return s;
}

AeScorer *
ae_scorer_get(FmgrInfo *flinfo)
{
	if (flinfo->fn_extra == NULL)
		flinfo->fn_extra = ae_scorer_create(flinfo->fn_mcxt);
	return (AeScorer *) flinfo->fn_extra;
}

static void *
Grow(AeScorer *s, void *old, size_t size)
{
	if (old)
		pfree(old);
	return MemoryContextAlloc(s->mcxt, Max(size, 1));
}

/* Set the buffers up for the current model: grown when it is wider. */
static void
SizeBuffers(AeScorer *s)
{
	AeCachedModel *m = s->entry;
	size_t		scratch = Max(ae_infer_scratch_size(&m->model),
							  ae_forward_scratch_size(&m->model, 1));

	if (m->d > s->cap_d)
	{
		s->xn = Grow(s, s->xn, sizeof(float) * m->d);
		s->present = Grow(s, s->present, sizeof(bool) * m->d);
		s->out = Grow(s, s->out, sizeof(float) * m->d);
		s->sqerr = Grow(s, s->sqerr, sizeof(float) * m->d);
		s->cap_d = m->d;
	}
	if (m->code_width > s->cap_code)
	{
		s->code = Grow(s, s->code, sizeof(float) * m->code_width);
		s->cap_code = m->code_width;
	}
	if (scratch > s->cap_scratch)
	{
		s->scratch = Grow(s, s->scratch, sizeof(float) * scratch);
		s->cap_scratch = scratch;
	}
	s->d = m->d;
	s->code_width = m->code_width;
	s->serial = m->serial;
}

/* Check and bind a model this call site has not bound (since the last invalidation). */
static AeBinding *
BindNew(AeScorer *s, const char *name, int namelen)
{
	uint64		generation;
	AeCachedModel *entry;
	AeBinding  *b;

	/*
	 * Catch up with the invalidations of transactions that committed since
	 * this backend last looked (it may hold every lock it needs already,
	 * and then nothing else would), then the catalog's permission check for
	 * the current user (remembered by the cache while nothing that could
	 * change it happened), which also raises 42704 for an unknown name.
	 */
	AcceptInvalidationMessages();
	entry = ae_cache_lookup_checked(name, namelen, &generation);

	/* what was bound before an invalidation that arrived meanwhile is stale */
	if (s->n_bindings > 0 && generation != s->generation)
		ReleaseBindings(s);
	ae_cache_pin(entry);
	if (s->n_bindings < AE_SCORER_BINDINGS)
		b = &s->bindings[s->n_bindings++];
	else
	{
		/* replace the least recently used binding */
		b = &s->bindings[0];
		for (int i = 1; i < s->n_bindings; i++)
			if (s->bindings[i].last_used < b->last_used)
				b = &s->bindings[i];
		ae_cache_unpin(b->entry);
	}
	b->entry = entry;
	if (b->search_path)
		pfree(b->search_path);
	b->search_path = ae_name_uses_search_path(name, namelen)
		? MemoryContextStrdup(s->mcxt, namespace_search_path) : NULL;
	b->namelen = namelen;
	memset(b->name, 0, sizeof(b->name));
	memcpy(b->name, name, namelen);
	s->generation = generation;
	s->userid = GetUserId();
	return b;
}

void
ae_scorer_bind(AeScorer *s, const char *name, int namelen)
{
	AeBinding  *b = NULL;

	/* the hot path: same model, nothing invalidated, same user */
	if (likely(s->current != NULL &&
			   s->generation == ae_cache_generation &&
			   s->current->namelen == namelen &&
			   s->userid == GetUserId() &&
			   memcmp(s->current->name, name, namelen) == 0 &&
			   (s->current->search_path == NULL ||
				strcmp(s->current->search_path, namespace_search_path) == 0)))
		return;

	/* after an invalidation, or as another user, everything is checked again */
	if (s->n_bindings > 0 &&
		(s->generation != ae_cache_generation || s->userid != GetUserId()))
		ReleaseBindings(s);

	/* another model bound earlier in this statement */
	for (int i = 0; i < s->n_bindings; i++)
		if (s->bindings[i].namelen == namelen &&
			memcmp(s->bindings[i].name, name, namelen) == 0 &&
			(s->bindings[i].search_path == NULL ||
			 strcmp(s->bindings[i].search_path, namespace_search_path) == 0))
		{
			b = &s->bindings[i];
			break;
		}
	if (b == NULL)
		b = BindNew(s, name, namelen);

	b->last_used = ++s->clock;
	s->current = b;
	s->entry = b->entry;
	s->name = b->name;
	if (s->serial != b->entry->serial)
		SizeBuffers(s);
}
