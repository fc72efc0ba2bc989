// Package deploy checks the repository's deploy files (serverless.yml for Serverless Cloud
// Framework, cloudbaserc.json for the CloudBase CLI, the Dockerfile and container.config.json
// for WeChat Cloud Hosting, scf_bootstrap for SCF web functions) against what the platforms
// and their tools publish, so that a typo fails CI instead of a deployment. The binary does
// not import it.
//
// The published material is kept in testdata/ with its source and licence; what only prose
// documents is written down here, next to where it was read.
package deploy

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Node is one node of a Serverless component input schema, in the dialect of the
// component's serverless.component.yml (keys type, required, allow, min, max, regex, keys,
// items, default).
type Node struct {
	Type     string
	Required bool
	Allow    []any
	Min, Max *float64
	Regex    *regexp.Regexp
	Keys     map[string]*Node
	Items    *Node
}

// ParseComponentSchema reads a serverless.component.yml and returns the schema of the deploy
// action's inputs.
func ParseComponentSchema(b []byte) (*Node, error) {
	var doc struct {
		Actions map[string]struct {
			Inputs map[string]any `yaml:"inputs"`
		} `yaml:"actions"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse component schema: %w", err)
	}
	deploy, ok := doc.Actions["deploy"]
	if !ok || deploy.Inputs == nil {
		return nil, fmt.Errorf("component schema has no actions.deploy.inputs")
	}
	return parseNode("inputs", map[string]any{"type": "object", "keys": deploy.Inputs})
}

// parseNode turns one decoded schema mapping into a Node.
func parseNode(path string, v any) (*Node, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: schema node is %T, not a mapping", path, v)
	}
	n := &Node{}
	n.Type, _ = m["type"].(string)
	n.Required, _ = m["required"].(bool)
	if a, ok := m["allow"].([]any); ok {
		n.Allow = a
	}
	for _, k := range []string{"min", "max"} {
		if x, ok := m[k]; ok {
			f, err := toFloat(x)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", path, k, err)
			}
			if k == "min" {
				n.Min = &f
			} else {
				n.Max = &f
			}
		}
	}
	if r, ok := m["regex"].(string); ok {
		// The schema is written for JavaScript, where "[\w-_]" is a class holding '-'; RE2
		// reads "\w-_" as a range and refuses it, so the dash moves to the class's end.
		re, err := regexp.Compile(strings.ReplaceAll(r, `\w-_`, `\w_-`))
		if err != nil {
			return nil, fmt.Errorf("%s.regex: %w", path, err)
		}
		n.Regex = re
	}
	if keys, ok := m["keys"].(map[string]any); ok {
		n.Keys = make(map[string]*Node, len(keys))
		for k, kv := range keys {
			c, err := parseNode(path+"."+k, kv)
			if err != nil {
				return nil, err
			}
			n.Keys[k] = c
		}
	}
	if items, ok := m["items"].([]any); ok && len(items) > 0 {
		c, err := parseNode(path+"[]", items[0])
		if err != nil {
			return nil, err
		}
		n.Items = c
	}
	return n, nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("not a number: %v", v)
}

// Merge adds extra's keys, items and constraints to n where n has none: the published
// schema stays authoritative, the supplement only fills what it leaves out.
func (n *Node) Merge(extra *Node) {
	if n.Type == "" {
		n.Type = extra.Type
	}
	if n.Allow == nil {
		n.Allow = extra.Allow
	}
	if n.Min == nil {
		n.Min = extra.Min
	}
	if n.Max == nil {
		n.Max = extra.Max
	}
	if n.Regex == nil {
		n.Regex = extra.Regex
	}
	n.Required = n.Required || extra.Required
	if extra.Items != nil {
		if n.Items == nil {
			n.Items = extra.Items
		} else {
			n.Items.Merge(extra.Items)
		}
	}
	for k, e := range extra.Keys {
		if n.Keys == nil {
			n.Keys = map[string]*Node{}
		}
		if c, ok := n.Keys[k]; ok {
			c.Merge(e)
		} else {
			n.Keys[k] = e
		}
	}
}

// envRef matches a Serverless variable such as ${env:WX_APPID}: its type is known only at
// deploy time, so a whole-value reference satisfies any scalar type.
var envRef = regexp.MustCompile(`^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$`)

// Validate checks v (decoded YAML) against n and returns every problem found, each with its
// path. Keys the schema does not list are problems: that is how a typo is caught.
func (n *Node) Validate(path string, v any) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if s, ok := v.(string); ok && envRef.MatchString(s) && n.Type != "object" && n.Type != "array" {
		return nil
	}
	switch n.Type {
	case "string":
		s, ok := v.(string)
		if !ok {
			fail("want a string, got %T %v", v, v)
			return errs
		}
		if n.Regex != nil && !n.Regex.MatchString(s) {
			fail("%q does not match %s", s, n.Regex)
		}
	case "number":
		f, err := toFloat(v)
		if err != nil {
			fail("want a number, got %T %v", v, v)
			return errs
		}
		if n.Min != nil && f < *n.Min {
			fail("%v is below the minimum %v", f, *n.Min)
		}
		if n.Max != nil && f > *n.Max {
			fail("%v is above the maximum %v", f, *n.Max)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want true or false, got %T %v", v, v)
		}
	case "src":
		// A path string or {src, exclude, bucket, object} (configure.md, "Src").
		switch x := v.(type) {
		case string:
		case map[string]any:
			errs = append(errs, srcNode.Validate(path, x)...)
		default:
			fail("want a path or a src mapping, got %T", v)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("want a list, got %T", v)
			return errs
		}
		if n.Items != nil {
			for i, it := range a {
				errs = append(errs, n.Items.Validate(fmt.Sprintf("%s[%d]", path, i), it)...)
			}
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("want a mapping, got %T", v)
			return errs
		}
		if n.Keys != nil {
			for _, k := range sortedKeys(m) {
				c, ok := n.Keys[k]
				if !ok {
					fail("unknown key %q (known: %s)", k, strings.Join(sortedKeys(n.Keys), ", "))
					continue
				}
				errs = append(errs, c.Validate(path+"."+k, m[k])...)
			}
			for _, k := range sortedKeys(n.Keys) {
				if _, ok := m[k]; !ok && n.Keys[k].Required {
					fail("required key %q is missing", k)
				}
			}
		}
	}
	if n.Allow != nil && !allowed(n.Allow, v) {
		fail("%v is not one of %v", v, n.Allow)
	}
	return errs
}

func allowed(list []any, v any) bool {
	return slices.ContainsFunc(list, func(a any) bool { return scalarString(a) == scalarString(v) })
}

func scalarString(v any) string {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// srcNode is the object form of `src` (tencent-scf docs/configure.md, "Src").
var srcNode = mustNode(`
type: object
keys:
  src: {type: string}
  exclude: {type: array, items: [{type: string}]}
  bucket: {type: string}
  object: {type: string}
`)

// componentSupplement holds what serverless.component.yml (0.9.x) leaves out but the
// component accepts, in the same dialect:
//   - inputs and trigger parameters documented in tencent-scf docs/configure.md (全部配置 and
//     the 配置描述 tables): description, namespace, role, environment, vpcConfig, entryFile,
//     timer qualifier/argument, the API Gateway endpoint table (serviceTimeout, function,
//     isBase64Encoded, isBase64Trigger, base64EncodedTriggerRules whose name is "Accept" or
//     "Content_Type", method one of ANY GET HEAD POST PUT DELETE);
//   - the `http` trigger (Function URL) of serverless-tencent/tencent-component-toolkit
//     (src/modules/triggers/http.ts, interface HttpTriggerInputsParams, 2025-05-28): name,
//     qualifier, authType CAM|NONE, netConfig {enableIntranet, enableExtranet}, corsConfig.
var componentSupplement = mustNode(`
type: object
keys:
  description: {type: string}
  namespace: {type: string}
  role: {type: string}
  entryFile: {type: string}
  environment:
    type: object
    keys:
      variables: {type: object}
  vpcConfig:
    type: object
    keys:
      vpcId: {type: string, required: true}
      subnetId: {type: string, required: true}
  events:
    type: array
    items:
      - type: object
        keys:
          timer:
            type: object
            keys:
              parameters:
                type: object
                required: true
                keys:
                  qualifier: {type: string}
                  cronExpression: {type: string, required: true}
                  argument: {type: string}
          apigw:
            type: object
            keys:
              parameters:
                type: object
                required: true
                keys:
                  instanceId: {type: string}
                  endpoints:
                    type: array
                    items:
                      - type: object
                        keys:
                          path: {type: string, required: true}
                          method: {type: string, allow: [ANY, GET, HEAD, POST, PUT, DELETE]}
                          apiId: {type: string}
                          apiName: {type: string}
                          description: {type: string}
                          responseType: {type: string, allow: [HTML, JSON, TEST, BINARY, XML]}
                          serviceTimeout: {type: number, min: 1, max: 1800}
                          authType: {type: string, allow: [NONE, APP]}
                          isBase64Encoded: {type: boolean}
                          isBase64Trigger: {type: boolean}
                          base64EncodedTriggerRules:
                            type: array
                            items:
                              - type: object
                                keys:
                                  name: {type: string, required: true, allow: [Accept, Content_Type]}
                                  value: {type: array, required: true, items: [{type: string, regex: '^[0-9A-Za-z.+*/_-]{1,40}$'}]}
                          function:
                            type: object
                            keys:
                              isIntegratedResponse: {type: boolean}
                              functionQualifier: {type: string}
          http:
            type: object
            keys:
              parameters:
                type: object
                required: true
                keys:
                  name: {type: string}
                  qualifier: {type: string}
                  authType: {type: string, allow: [CAM, NONE]}
                  netConfig:
                    type: object
                    keys:
                      enableIntranet: {type: boolean}
                      enableExtranet: {type: boolean}
                  corsConfig:
                    type: object
                    keys:
                      enable: {type: boolean}
                      origins: {type: array, items: [{type: string}]}
                      methods: {type: array, items: [{type: string}]}
                      headers: {type: array, items: [{type: string}]}
                      exposeHeaders: {type: array, items: [{type: string}]}
                      credentials: {type: boolean}
                      maxAge: {type: number}
`)

func mustNode(src string) *Node {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(src), &m); err != nil {
		panic("deploy: bad built-in schema: " + err.Error())
	}
	n, err := parseNode("supplement", m)
	if err != nil {
		panic("deploy: bad built-in schema: " + err.Error())
	}
	return n
}

// ComponentSchema returns the SCF component's input schema: the published one (b, the
// content of serverless.component.yml) completed by componentSupplement.
func ComponentSchema(b []byte) (*Node, error) {
	n, err := ParseComponentSchema(b)
	if err != nil {
		return nil, err
	}
	n.Merge(componentSupplement)
	return n, nil
}

// ServerlessFile is a decoded serverless.yml of the scf component.
type ServerlessFile struct {
	Component string         `yaml:"component"`
	Name      string         `yaml:"name"`
	App       string         `yaml:"app"`
	Stage     string         `yaml:"stage"`
	Org       string         `yaml:"org"`
	Inputs    map[string]any `yaml:"inputs"`
}

// topLevelKeys are the keys a component project file has (tencent-scf docs/configure.md,
// 全部配置: app, stage, component, name, inputs; org in earlier versions of the same file).
var topLevelKeys = []string{"app", "stage", "org", "component", "name", "inputs"}

// CheckServerless validates a serverless.yml against the component schema and the rules the
// schema cannot express: component scf, one trigger type per events item, a 7-field cron.
func CheckServerless(schema *Node, b []byte) []error {
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return []error{fmt.Errorf("parse serverless.yml: %w", err)}
	}
	var errs []error
	for _, k := range sortedKeys(raw) {
		if !slices.Contains(topLevelKeys, k) {
			errs = append(errs, fmt.Errorf("unknown top-level key %q", k))
		}
	}
	if raw["component"] != "scf" {
		errs = append(errs, fmt.Errorf("component is %v, want scf", raw["component"]))
	}
	if n, _ := raw["name"].(string); n == "" {
		errs = append(errs, fmt.Errorf("name (the instance name) is required"))
	}
	inputs, ok := raw["inputs"].(map[string]any)
	if !ok {
		return append(errs, fmt.Errorf("inputs is missing"))
	}
	errs = append(errs, schema.Validate("inputs", inputs)...)
	events, _ := inputs["events"].([]any)
	for i, ev := range events {
		m, _ := ev.(map[string]any)
		if len(m) != 1 {
			errs = append(errs, fmt.Errorf("inputs.events[%d]: want exactly one trigger type, got %d keys", i, len(m)))
			continue
		}
		if t, ok := m["timer"].(map[string]any); ok {
			p, _ := t["parameters"].(map[string]any)
			cron, _ := p["cronExpression"].(string)
			if err := CheckCron(cron); err != nil {
				errs = append(errs, fmt.Errorf("inputs.events[%d].timer.parameters.cronExpression: %w", i, err))
			}
		}
	}
	return errs
}
