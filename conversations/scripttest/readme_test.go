package scripttest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's example script and example test must stay true: the script
// lints clean and the test passes against it.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(string(readme))
	var script, test string
	for _, b := range blocks {
		switch {
		case strings.HasPrefix(b, "settings:"):
			script = b
		case strings.HasPrefix(b, "tests:"):
			test = b
		}
	}
	if script == "" || test == "" {
		t.Fatalf("README lost its example script or test (found %d yaml blocks)", len(blocks))
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "example.yaml"), []byte(script), 0o644)
	os.WriteFile(filepath.Join(dir, "example_test.yaml"), []byte(test), 0o644)
	rep, err := RunDir(context.Background(), dir, "")
	if err != nil {
		t.Fatalf("README example script: %v", err)
	}
	var out strings.Builder
	rep.Print(&out)
	if rep.Failed > 0 || rep.Passed == 0 {
		t.Fatalf("README example test:\n%s", out.String())
	}
}

func yamlBlocks(md string) []string {
	var out []string
	for _, part := range strings.Split(md, "```yaml\n")[1:] {
		if end := strings.Index(part, "```"); end >= 0 {
			out = append(out, part[:end])
		}
	}
	return out
}
