package insight

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Formats are the formats Write writes.
var Formats = []string{"table", "json", "csv", "html"}

// Write renders r in format: table (a terminal table), json (the Report
// as is, indented), csv (one row per figure) or html (a self-contained page
// with charts; its journey map needs WriteHTML).
func Write(w io.Writer, format string, r *Report) error {
	switch format {
	case "table":
		return writeTable(w, r)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "csv":
		return writeCSV(w, r)
	case "html":
		return WriteHTML(w, r, nil)
	}
	return fmt.Errorf("unknown report format %q: give one of %s", format, strings.Join(Formats, ", "))
}

// pct writes a 0..1 share as a percentage, "-" when null.
func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return pctOf(*v)
}

func pctOf(v float64) string {
	p := v * 100
	if p != 0 && p < 10 && p > -10 {
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + "%"
}

// num writes v with dec decimals, "-" when null.
func num(v *float64, dec int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', dec, 64)
}

func signed(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%+.0f", *v)
}

func hours(v *float64) string {
	if v == nil {
		return "-"
	}
	h := *v
	switch {
	case h >= 48:
		return strconv.FormatFloat(h/24, 'f', 1, 64) + "d"
	case h >= 1:
		return strconv.FormatFloat(h, 'f', 1, 64) + "h"
	}
	return strconv.FormatFloat(h*60, 'f', 0, 64) + "m"
}

func minutes(v *float64) string {
	if v == nil {
		return "-"
	}
	h := *v / 60
	return hours(&h)
}

func interval(iv [2]float64, customers int64) string {
	if customers == 0 {
		return "-"
	}
	return pctOf(iv[0]) + " – " + pctOf(iv[1])
}
