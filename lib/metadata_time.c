/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TUF expiry times: exactly "YYYY-MM-DDTHH:MM:SSZ" in UTC, the one form the
 * specification allows. Parsed by hand: strptime() depends on the locale and
 * accepts more than it should.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "upkeep/metadata.h"

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

upk_status upk_time_parse(const char *text, time_t *out, struct upk_error *err)
{
	struct tm tm = {0};
	int year, month, day, hour, min, sec;
	time_t t;

	if (text == NULL || strlen(text) != 20 || text[4] != '-' || text[7] != '-' ||
	    text[10] != 'T' || text[13] != ':' || text[16] != ':' || text[19] != 'Z' ||
	    !digits(text, 4, &year) || !digits(text + 5, 2, &month) ||
	    !digits(text + 8, 2, &day) || !digits(text + 11, 2, &hour) ||
	    !digits(text + 14, 2, &min) || !digits(text + 17, 2, &sec))
		goto bad;
	if (year < 1970 || month < 1 || month > 12 || day < 1 ||
	    day > days_in_month(year, month) || hour > 23 || min > 59 || sec > 59)
		goto bad;
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		goto bad;
	*out = t;
	return UPK_OK;
bad:
	return upk_error_set(err, UPK_ERR_INVALID,
			     "time \"%.40s\" is not a valid YYYY-MM-DDTHH:MM:SSZ", text ? text : "");
}

void upk_time_format(time_t t, char out[21])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year < 70) {
		/* Out of the representable range: clamp rather than write garbage. */
		strcpy(out, t < 0 ? "1970-01-01T00:00:00Z" : "9999-12-31T23:59:59Z");
		return;
	}
	char buf[64]; /* roomy enough for any int, so the compiler can see nothing truncates */

	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(out, buf, 21);
}
