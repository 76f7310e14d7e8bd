/*
 * no-check.h: what the test programs include instead of Check's flags when
 * ./configure did not find Check, so that `make check` stops with this one
 * line rather than passing without its tests or failing obscurely.
 */
#error "make check needs Check (Debian: apt-get install check), then ./configure again"
