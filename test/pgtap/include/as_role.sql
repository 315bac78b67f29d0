-- pg_temp.as_role(role, statement [, path]): run a statement as a role,
-- with a search_path when one is given, and return the first column of a
-- query as text.  An error propagates (the subtransaction of throws_ok
-- undoes the SET ROLE and the search_path); success restores both.
-- Everything here is decided before the search_path changes, and
-- qualified, so that the helper itself walks into nothing the roles
-- planted.  Included by the files that act as several roles (\ir).
CREATE FUNCTION pg_temp.as_role(role name, statement text, path text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    saved text := pg_catalog.current_setting('search_path');
    is_query boolean := statement OPERATOR(pg_catalog.~*) '^\s*(select|with|values)\M';
    result text;
BEGIN
    EXECUTE pg_catalog.format('SET ROLE %I', role);
    IF path IS NOT NULL THEN
        PERFORM pg_catalog.set_config('search_path', path, true);
    END IF;
    IF is_query THEN
        EXECUTE statement INTO result;
    ELSE
        EXECUTE statement;
    END IF;
    PERFORM pg_catalog.set_config('search_path', saved, true);
    RESET ROLE;
    RETURN result;
END $$;
