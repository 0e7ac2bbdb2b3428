package insight

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./insight -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test ./insight -run %s -update rewrites it); got:\n%s", path, t.Name(), got)
	}
}

func TestReportFormatsGolden(t *testing.T) {
	for _, tc := range []struct{ format, file string }{
		{"table", "report.txt"},
		{"json", "report.json"},
		{"csv", "report.csv"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tc.format, fixture()); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
}

func TestReportUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "pdf", fixture())
	if err == nil || !strings.Contains(err.Error(), `"pdf"`) || !strings.Contains(err.Error(), "table, json, csv, html") {
		t.Fatalf("err = %v, want one naming the format and the choices", err)
	}
}

// The JSON carries the keys other tools read (issue 12), nulls included.
func TestReportJSONKeys(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "json", fixture()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"from", "to", "nps", "csat", "stages", "flows", "experiments", "offers", "customers"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no top-level key %q", k)
		}
	}
	for _, k := range []string{"score", "promoters", "passives", "detractors", "answers"} {
		if _, ok := doc["nps"].(map[string]any)[k]; !ok {
			t.Errorf("nps lacks %q", k)
		}
	}
	v := doc["experiments"].([]any)[0].(map[string]any)["variants"].([]any)[2].(map[string]any)
	for _, k := range []string{"name", "customers", "conversions", "rate", "interval", "probability_best"} {
		if _, ok := v[k]; !ok {
			t.Errorf("variant lacks %q", k)
		}
	}
	if v["rate"] != nil {
		t.Errorf("a variant without traffic has rate %v, want null", v["rate"])
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Days) != 3 || back.Days[1].NPS != nil {
		t.Errorf("days did not survive the round trip: %+v", back.Days)
	}
}

// Every CSV row has the four columns; a null figure is an empty value, and
// the day without activity has all its rows.
func TestReportCSVShape(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "csv", fixture()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, r := range rows {
		if len(r) != 4 {
			t.Fatalf("row %q has %d columns", r, len(r))
		}
		seen[r[0]+","+r[1]+","+r[2]] = r[3]
	}
	for key, want := range map[string]string{
		"step,feedback/review,drop_off":   "",
		"variant,welcome_copy/c,rate":     "",
		"variant,welcome_copy/a,rate":     "0.2",
		"offer,VIP20,rate":                "",
		"day,2026-11-25,inbound":          "0",
		"day,2026-11-25,nps":              "",
		"experiment,coupon_size,winner":   "twenty",
		"funnel,purchase>onboarding,rate": "0.7",
		"cohort,2026-10,retention_1":      "0.2",
		"customers,,clv_average":          "231.4",
	} {
		got, ok := seen[key]
		if !ok || got != want {
			t.Errorf("%s = %q (present %v), want %q", key, got, ok, want)
		}
	}
}

// The table says plainly what is null and who wins.
func TestReportTableReads(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "table", fixture()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"nps     10       0        2          20%", // the step most leave at
		"<- most leave here",
		"twenty *  118        31           26%   19% – 35%     >99%",
		"2026-11-25  0   0    0       -        -         0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// An empty report (a new shop, no figures yet) renders in every format.
func TestReportEmpty(t *testing.T) {
	for _, format := range Formats {
		var b bytes.Buffer
		if err := Write(&b, format, &Report{From: "2026-11-01", To: "2026-11-01"}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !strings.Contains(b.String(), "2026-11-01") {
			t.Errorf("%s: the empty report does not say its days:\n%s", format, b.String())
		}
	}
}
