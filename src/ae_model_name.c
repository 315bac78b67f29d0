/*
 * ae_model_name.c — model names as users write them: parsing and display.
 *
 * A model name is "name" or "schema.name".  Each part is taken as written
 * (model names are case-sensitive, as they were before models lived in
 * schemas, so that existing names keep working), a part in double quotes may
 * hold dots, and "" inside quotes is one double quote: '"Odd Schema"."M 1"',
 * 'analytics.gate', 'Gate'.  Each part has 1 to AE_MODEL_NAME_MAX bytes.
 *
 * Names are checked here before anything is looked up, and echoed in
 * messages only clipped (ae_model_name_display): a name of 100 KB must not
 * become an error message of 100 KB.
 */
#include "postgres.h"

#include <limits.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "ae_catalog.h"

const char *
ae_model_name_display(const char *given)
{
	size_t		len = strlen(given);
	int			clip;

	if (len <= AE_MODEL_NAME_MAX)
		return given;
	clip = pg_mbcliplen(given, (int) Min(len, (size_t) INT_MAX), AE_MODEL_NAME_MAX);
	return psprintf("%.*s...", clip, given);
}

static void
ReportSyntax(const char *given, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_NAME),
			 errmsg("invalid model name \"%s\"", ae_model_name_display(given)),
			 errdetail("%s", why),
			 errhint("Write a model name as name or schema.name; "
					 "double-quote a part that contains a dot or a double quote.")));
}

static void
CheckPartLength(const char *given, const char *part, size_t len, bool is_schema)
{
	const char *what = is_schema ? "schema name" : "model name";

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what),
				 given[0] ? errdetail("The name was \"%s\".", ae_model_name_display(given)) : 0));
	if (len > AE_MODEL_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("%s \"%s\" is too long", what, ae_model_name_display(part)),
				 errdetail("A model name and its schema name have at most %d bytes each; this one has %zu.",
						   AE_MODEL_NAME_MAX, len)));
}

/* One part starting at *p; advances *p past it.  Returns the part. */
static char *
ParsePart(const char *given, const char **p)
{
	StringInfoData buf;
	const char *s = *p;

	initStringInfo(&buf);
	if (*s == '"')
	{
		s++;
		for (;;)
		{
			if (*s == '\0')
				ReportSyntax(given, "A double quote is not closed.");
			if (*s == '"')
			{
				if (s[1] != '"')
					break;
				s++;
			}
			appendStringInfoChar(&buf, *s);
			s++;
			/* the input is bounded, so is this */
		}
		s++;					/* the closing quote */
		if (*s != '\0' && *s != '.')
			ReportSyntax(given, "A quoted part must be followed by a dot or end the name.");
	}
	else
	{
		while (*s != '\0' && *s != '.')
		{
			if (*s == '"')
				ReportSyntax(given, "A double quote may only begin a part of the name.");
			appendStringInfoChar(&buf, *s);
			s++;
		}
	}
	*p = s;
	return buf.data;
}

void
ae_model_name_parse(const char *given, AeModelName *out)
{
	size_t		len = strlen(given);
	const char *p = given;
	char	   *first,
			   *second = NULL;

	if (len > AE_MODEL_INPUT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", ae_model_name_display(given)),
				 errdetail("A model name and its schema name have at most %d bytes each; this one has %zu in all.",
						   AE_MODEL_NAME_MAX, len)));
	first = ParsePart(given, &p);
	if (*p == '.')
	{
		p++;
		second = ParsePart(given, &p);
		if (*p == '.')
			ReportSyntax(given, "A model name has at most two parts, schema and name.");
	}
	if (second)
	{
		CheckPartLength(given, first, strlen(first), true);
		CheckPartLength(given, second, strlen(second), false);
		strlcpy(out->schema, first, sizeof(out->schema));
		strlcpy(out->name, second, sizeof(out->name));
		out->qualified = true;
	}
	else
	{
		CheckPartLength(given, first, strlen(first), false);
		out->schema[0] = '\0';
		strlcpy(out->name, first, sizeof(out->name));
		out->qualified = false;
	}
	out->given = ae_model_name_display(given);
}

const char *
ae_model_name_qualified(const char *schema, const char *name)
{
	return quote_qualified_identifier(schema, name);
}
