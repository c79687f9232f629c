/*
 * vector_lines.h - reads the tab-separated vector files of tests/vectors/
 * ("name<TAB>expected<TAB>record", '#' comments, blank lines skipped), for the
 * mail record parser tests. Include after cmocka.h.
 */
#ifndef TW_TEST_VECTOR_LINES_H
#define TW_TEST_VECTOR_LINES_H

#include <stdio.h>
#include <string.h>

/* The next case into line (split in place), or false at the end of f. */
static inline bool vector_next(FILE *f, char *line, size_t size, char **name, char **exp,
                               char **rec)
{
	while (fgets(line, (int)size, f)) {
		size_t ll = strlen(line);
		if (ll && line[ll - 1] == '\n')
			line[--ll] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		*name = line;
		*exp = strchr(line, '\t');
		assert_non_null(*exp);
		*(*exp)++ = '\0';
		*rec = strchr(*exp, '\t');
		assert_non_null(*rec);
		*(*rec)++ = '\0';
		return true;
	}
	return false;
}

#endif
