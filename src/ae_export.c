/*
 * ae_export.c — a stored model as a JSON document (format "autoenc",
 * format_version 1, or 2 for a mixed-type model, which adds "encoding";
 * described in doc/how-it-works.md).
 *
 * Weights are written per layer as out×in nested arrays, the layout of
 * PyTorch's nn.Linear.weight, so that a document loads into torch with
 * torch.tensor(layer["weight"]).  Tied decoder layers are written out as
 * the transposes they use, with "tied": true at the top.  ae_import reads
 * the same document back.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "ae_catalog.h"
#include "ae_json.h"
#include "autoenc.h"

static void
AppendLayers(StringInfo buf, const AeBundle *b)
{
	AeModel		m;
	char		errbuf[AE_ERRBUF_SIZE];

	if (ae_model_bind(&m, &b->arch, b->params, errbuf) != AE_OK)
		elog(ERROR, "stored model does not bind: %s. Please report a bug.", errbuf);

	appendStringInfoChar(buf, '[');
	for (int l = 0; l < m.n_layers; l++)
	{
		int			out = m.dims[l + 1];
		int			in = m.dims[l];

		if (l > 0)
			appendStringInfoString(buf, ", ");
		appendStringInfoChar(buf, '{');
		ae_json_key(buf, "activation", true);
		escape_json(buf, ae_activation_name(m.act[l]));
		ae_json_key(buf, "weight", false);
		appendStringInfoChar(buf, '[');
		for (int i = 0; i < out; i++)
		{
			if (i > 0)
				appendStringInfoString(buf, ", ");
			if (m.W_tied[l])
			{
				/* W[l] is the encoder twin's in×out matrix, used transposed */
				appendStringInfoChar(buf, '[');
				for (int j = 0; j < in; j++)
				{
					if (j > 0)
						appendStringInfoString(buf, ", ");
					ae_json_float4(buf, m.W[l][(size_t) j * out + i]);
				}
				appendStringInfoChar(buf, ']');
			}
			else
				ae_json_float4_array(buf, m.W[l] + (size_t) i * in, in);
			CHECK_FOR_INTERRUPTS();
		}
		appendStringInfoChar(buf, ']');
		ae_json_key(buf, "bias", false);
		ae_json_float4_array(buf, m.b[l], out);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

static void
AppendHistory(StringInfo buf, const AeBundle *b)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < b->n_history; i++)
	{
		const AeEpochStats *e = &b->history[i];

		if (i > 0)
			appendStringInfoString(buf, ", ");
		appendStringInfoChar(buf, '{');
		ae_json_key(buf, "epoch", true);
		appendStringInfo(buf, "%d", e->epoch);
		ae_json_key(buf, "train_loss", false);
		ae_json_float8(buf, e->train_loss);
		ae_json_key(buf, "val_loss", false);
		ae_json_float8(buf, e->val_loss);
		ae_json_key(buf, "seconds", false);
		ae_json_float8(buf, e->seconds);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

static Jsonb *
BundleToJson(const AeBundle *b, const char *name, int version)
{
	const AeArch *a = &b->arch;
	size_t		d = (size_t) a->n_inputs;
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	ae_json_key(&buf, "format", true);
	escape_json(&buf, "autoenc");
	/* 2 only for what version 1 cannot hold: a numeric model reads back in older releases */
	ae_json_key(&buf, "format_version", false);
	appendStringInfoString(&buf, b->encoding_json ? "2" : "1");
	ae_json_key(&buf, "name", false);
	escape_json(&buf, name);
	ae_json_key(&buf, "version", false);
	appendStringInfo(&buf, "%d", version);
	ae_json_key(&buf, "n_inputs", false);
	appendStringInfo(&buf, "%d", a->n_inputs);
	ae_json_key(&buf, "code_layer", false);
	appendStringInfo(&buf, "%d", a->code_layer);
	ae_json_key(&buf, "tied", false);
	appendStringInfoString(&buf, a->tied ? "true" : "false");
	ae_json_key(&buf, "layers", false);
	AppendLayers(&buf, b);

	ae_json_key(&buf, "normalization", false);
	appendStringInfoChar(&buf, '{');
	ae_json_key(&buf, "method", true);
	escape_json(&buf, ae_norm_name(b->norm_method));
	ae_json_key(&buf, "offset", false);
	ae_json_float4_array(&buf, b->norm_offset, d);
	ae_json_key(&buf, "scale", false);
	ae_json_float4_array(&buf, b->norm_scale, d);
	appendStringInfoChar(&buf, '}');
	ae_json_key(&buf, "feature_mean", false);
	ae_json_float4_array(&buf, b->feature_mean, d);

	ae_json_key(&buf, "threshold", false);
	ae_json_float8(&buf, b->threshold);
	ae_json_key(&buf, "contamination", false);
	ae_json_float8(&buf, b->contamination);
	ae_json_key(&buf, "quantiles", false);
	if (isnan(b->quantiles[0]))
		appendStringInfoString(&buf, "null");
	else
		ae_json_float8_array(&buf, b->quantiles, AE_BUNDLE_N_QUANTILES);

	ae_json_training(&buf, b);
	ae_json_key(&buf, "history", false);
	AppendHistory(&buf, b);

	ae_json_key(&buf, "config", false);
	appendStringInfoString(&buf, b->config_json ? b->config_json : "null");
	ae_json_key(&buf, "columns", false);
	ae_json_columns(&buf, b->n_columns, b->columns);
	if (b->encoding_json)
	{
		/* the input layout, slot weights and softmax groups all follow from it */
		ae_json_key(&buf, "encoding", false);
		appendStringInfoString(&buf, b->encoding_json);
	}
	appendStringInfoChar(&buf, '}');
	return ae_json_finish(&buf);
}

PG_FUNCTION_INFO_V1(ae_export);
Datum
ae_export(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			version;
	AeBundle   *bundle = ae_catalog_fetch(name, AE_ACCESS_OWN, &version);
	AeModelName mn;

	/* the document carries the name without its schema: an import decides where */
	ae_model_name_parse(name, &mn);
	PG_RETURN_JSONB_P(BundleToJson(bundle, mn.name, version));
}
