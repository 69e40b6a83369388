// Command chart-render lints and renders a Helm chart with the Helm library
// pinned in this module's go.mod (helm.sh/helm/v4), the same code paths as
// `helm lint` and `helm template`: no cluster is contacted.
//
//	chart-render lint DIR [--strict] [--namespace NS] [--set k=v]... [-f values.yaml]...
//	chart-render template DIR [--release NAME] [--namespace NS] [--api-versions G/V]...
//	                          [--set k=v]... [-f values.yaml]...
//	chart-render notes DIR    (the flags of template)
//
// lint prints every message and exits 1 when one is an error (with --strict,
// also a warning). template prints the rendered manifests, each document
// headed by a "# Source:" comment as helm template prints it. notes prints
// the rendered templates/NOTES.txt, which helm shows after an install. The
// chart's tests (test/integration/chart) and `make helm-template` run it;
// hack/build-tools.sh builds it into _output/bin.
//
// It is a module of its own because Helm's Kubernetes dependencies differ from
// the versions the clusterview module pins.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	release "helm.sh/helm/v4/pkg/release/v1"
)

const usage = `usage:
  chart-render lint DIR [--strict] [--namespace NS] [--set k=v]... [-f values.yaml]...
  chart-render template DIR [--release NAME] [--namespace NS] [--api-versions G/V]...
                            [--set k=v]... [-f values.yaml]...
  chart-render notes DIR    (the flags of template)`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chart-render:", err)
		os.Exit(1)
	}
}

// options are the flags both commands share, and those of template.
type options struct {
	values      values.Options
	namespace   string
	release     string
	strict      bool
	apiVersions []string
}

func (o *options) flags(cmd string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.StringArrayVar(&o.values.Values, "set", nil, "set a value (key=value), as helm --set")
	fs.StringArrayVar(&o.values.StringValues, "set-string", nil, "set a string value (key=value), as helm --set-string")
	fs.StringArrayVarP(&o.values.ValueFiles, "values", "f", nil, "a values file, as helm -f")
	fs.StringVarP(&o.namespace, "namespace", "n", "default", "the release's namespace")
	switch cmd {
	case "lint":
		fs.BoolVar(&o.strict, "strict", false, "fail on warnings too")
	case "template", "notes":
		fs.StringVar(&o.release, "release", "clusterview", "the release name")
		fs.StringArrayVar(&o.apiVersions, "api-versions", nil, "an API version the templates may assume (Capabilities.APIVersions), as helm template --api-versions")
	}
	return fs
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "lint" && args[0] != "template" && args[0] != "notes") {
		return errors.New(usage)
	}
	cmd := args[0]
	var o options
	fs := o.flags(cmd)
	fs.SetOutput(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%s wants one chart directory, got %d arguments\n%s", cmd, fs.NArg(), usage)
	}
	vals, err := o.values.MergeValues(getter.Providers{})
	if err != nil {
		return fmt.Errorf("reading values: %w", err)
	}
	if cmd == "lint" {
		return lint(fs.Arg(0), vals, &o, stdout)
	}
	rel, err := render(context.Background(), fs.Arg(0), vals, &o)
	if err != nil {
		return err
	}
	var b strings.Builder
	if cmd == "notes" {
		b.WriteString(rel.Info.Notes + "\n")
	} else {
		b.WriteString(strings.TrimSpace(rel.Manifest) + "\n")
		for _, h := range rel.Hooks {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// lint runs helm lint's rules on dir.
func lint(dir string, vals map[string]any, o *options, out io.Writer) error {
	l := action.NewLint()
	l.Namespace = o.namespace
	l.Strict = o.strict
	res := l.Run([]string{dir}, vals)
	var b strings.Builder
	for _, m := range res.Messages {
		b.WriteString(m.Error() + "\n")
	}
	if _, err := io.WriteString(out, b.String()); err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		var msgs []string
		for _, err := range res.Errors {
			msgs = append(msgs, err.Error())
		}
		return fmt.Errorf("%s: %d chart(s) linted, %d failed check(s):\n  %s", dir, res.TotalChartsLinted, len(res.Errors), strings.Join(msgs, "\n  "))
	}
	_, err := fmt.Fprintf(out, "%s: %d chart(s) linted, no failures (%d message(s))\n", dir, res.TotalChartsLinted, len(res.Messages))
	return err
}

// render renders dir as helm template does: a client-only install that
// talks to no cluster and validates the values against values.schema.json.
func render(ctx context.Context, dir string, vals map[string]any, o *options) (*release.Release, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", dir, err)
	}
	if t := ch.Metadata.Type; t != "" && t != "application" {
		return nil, fmt.Errorf("chart %s has type %q, which cannot be installed", dir, t)
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = o.release
	install.Namespace = o.namespace
	install.Replace = true
	install.APIVersions = common.VersionSet(o.apiVersions)
	r, err := install.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", dir, err)
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("rendering %s: unexpected release type %T", dir, r)
	}
	return rel, nil
}
