package insight

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The page is self-contained: nothing in it points outside itself.
func TestReportHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, fixture(), BuildMap(shippedScripts(t), fixture())); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"http://", "https://", "<link", "src=", "@import", "url(http"} {
		if i := strings.Index(page, bad); i >= 0 && !strings.HasPrefix(page[i:], "http://www.w3.org/2000/svg") {
			t.Errorf("the page refers outside itself: …%s…", page[max(0, i-40):min(len(page), i+60)])
		}
	}
	for _, want := range []string{`id="chart-funnel"`, `id="chart-nps-csat"`, `id="chart-dropoff-0"`, `id="chart-exp-0"`, `id="journey-map"`, "no customers yet", "Most customers lost: feedback (3 of 10 started), most at nps"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// The day without answers has no point on the NPS line: two points for
	// the fixture's three days, and the line breaks at the empty day.
	if n := strings.Count(page, `class="point series-nps"`); n != 2 {
		t.Errorf("%d NPS points, want 2 (the day without answers has none)", n)
	}
}

// chromium finds the browser: $CHROMIUM, else chromium on the PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		// Not a skip: CI installs it, and a developer without it would
		// otherwise never see the page fail.
		t.Fatal("headless Chromium is needed to check the HTML report: run .ci/install-chromium (apt-get install chromium), or set CHROMIUM to its path")
	}
	return p
}

// The HTML report opens in headless Chromium without script errors or
// requests outside the file, draws its charts and the journey map, and
// looks like something (a screenshot that is not blank).
func TestReportHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, fixture(), BuildMap(shippedScripts(t), fixture())); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), // no downloads while the test runs
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1200, 2000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("script error at %d:%d: %s", d.LineNumber+1, d.ColumnNumber+1, text))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
				problems = append(problems, "request outside the page: "+u)
			}
		}
	})
	if err != nil {
		t.Fatalf("chromium (%s): %v", bin, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium (%s): %v", bin, err)
	}
	counts, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`(() => {
		const n = s => document.querySelectorAll(s).length;
		return {
			funnel: n("svg#chart-funnel rect.bar-entered"),
			overTime: n("svg#chart-nps-csat circle.point"),
			dropOff: n("svg.chart-dropoff"),
			dropOffBars: n("svg.chart-dropoff rect.bar-dropoff"),
			experiments: n("svg.chart-experiment"),
			intervals: n("svg.chart-experiment rect.interval-bar"),
			mapStages: n("svg#journey-map g.stage"),
			mapSteps: n("svg#journey-map g.step"),
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	widths, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`(() => {
		const w = id => document.getElementById(id).getBoundingClientRect().width;
		return {funnel: w("chart-funnel"), overTime: w("chart-nps-csat"), map: w("journey-map")};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	drawn, err := chromedp.Run(ctx, chromedp.AttributeValue("body", "data-charts"))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}

	fx := fixture()
	steps, bars := 0, 0
	for _, f := range fx.Flows {
		for _, s := range f.Steps {
			steps++
			if s.DropOff != nil {
				bars++
			}
		}
	}
	intervals := 0
	for _, e := range fx.Experiments {
		for _, v := range e.Variants {
			if v.Customers > 0 {
				intervals++
			}
		}
	}
	mapSteps := 0
	for _, f := range shippedScripts(t).Flows {
		mapSteps += len(f.Steps) + 1 // and its start
	}
	for name, want := range map[string]int{
		"funnel": len(fx.Stages.List), "overTime": 4, "dropOff": len(fx.Flows), "dropOffBars": bars,
		"experiments": len(fx.Experiments), "intervals": intervals,
		"mapStages": len(shippedScripts(t).Stages), "mapSteps": mapSteps - len(shippedScripts(t).Flows),
	} {
		if counts[name] != want {
			t.Errorf("%s: %d elements in the DOM, want %d", name, counts[name], want)
		}
	}
	for name, w := range widths {
		if w < 300 {
			t.Errorf("%s is drawn %.0f px wide", name, w)
		}
	}
	if want := fmt.Sprint(3 + len(fx.Flows) + len(fx.Experiments)); drawn.Value != want {
		t.Errorf("the page's script counted %q charts, want %s (did it run?)", drawn.Value, want)
	}

	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	sz := img.Bounds().Size()
	if sz.X < 1000 || sz.Y < 1000 {
		t.Errorf("screenshot is %dx%d, want about 1200x2000", sz.X, sz.Y)
	}
	colors := map[uint32]bool{}
	nonWhite := 0
	for y := 0; y < sz.Y; y += 4 {
		for x := 0; x < sz.X; x += 4 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[r>>12<<8|g>>12<<4|b>>12] = true
			if r < 0xf000 || g < 0xf000 || b < 0xf000 {
				nonWhite++
			}
		}
	}
	if len(colors) < 8 || nonWhite < 2000 {
		t.Errorf("the screenshot looks blank: %d colours, %d of the sampled pixels not white", len(colors), nonWhite)
	}
	if t.Failed() {
		out := filepath.Join(os.TempDir(), "journeybot-report-screenshot.png")
		os.WriteFile(out, shot, 0o644)
		t.Logf("screenshot: %s", out)
	}
}
