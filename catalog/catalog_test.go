package catalog_test

import (
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/annotator-dev/annotator/catalog"
)

func builtin(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Builtin()
	if err != nil {
		t.Fatalf("Builtin: %v", err)
	}
	return c
}

func TestBuiltinCodes(t *testing.T) {
	c := builtin(t)
	entries := c.Entries()
	if len(entries) != 146 {
		t.Errorf("built-in catalog has %d codes, want 146", len(entries))
	}
	codeRE := regexp.MustCompile(`^8[0-9]{5}$`)
	for i, e := range entries {
		if !codeRE.MatchString(e.Code) {
			t.Errorf("code %q is not a six-digit code starting with 8", e.Code)
		}
		if i > 0 && entries[i-1].Code >= e.Code {
			t.Errorf("entries not strictly sorted: %q before %q", entries[i-1].Code, e.Code)
		}
		for _, v := range e.Variants {
			for _, s := range []string{v.Message, v.Meaning} {
				if strings.ContainsAny(s, "<>") {
					t.Errorf("%s: text %q contains HTML remnants", e.Code, s)
				}
				if strings.TrimSpace(s) != s {
					t.Errorf("%s: text %q has surrounding whitespace", e.Code, s)
				}
			}
			if v.Meaning == "" {
				t.Errorf("%s: variant with empty meaning", e.Code)
			}
		}
	}
	wantSources := []catalog.Source{
		{ID: "sdk/ios", Name: "JMessage SDK error codes — iOS table"},
		{ID: "sdk/android", Name: "JMessage SDK error codes — Android table"},
		{ID: "sdk/server", Name: "JMessage SDK error codes — Server Error table"},
		{ID: "im/im", Name: "JMessage IM error codes — IM ErrorCode table"},
	}
	if got := c.Sources(); !reflect.DeepEqual(got, wantSources) {
		t.Errorf("Sources() = %v, want %v", got, wantSources)
	}
	// Codes per table, counted from the documents by hand (the "0 Success"
	// rows excluded; the IM table lists 898006 twice).
	perSource := map[string]int{}
	for _, e := range entries {
		seen := map[string]bool{}
		for _, v := range e.Variants {
			for _, s := range v.Sources {
				if !seen[s] {
					seen[s] = true
					perSource[s]++
				}
			}
		}
	}
	wantPer := map[string]int{"sdk/ios": 26, "sdk/android": 28, "sdk/server": 88, "im/im": 44}
	if !reflect.DeepEqual(perSource, wantPer) {
		t.Errorf("codes per source = %v, want %v", perSource, wantPer)
	}
}

func v(msg, meaning string, sources ...string) catalog.Variant {
	return catalog.Variant{Message: msg, Meaning: meaning, Sources: sources}
}

func TestBuiltinText(t *testing.T) {
	c := builtin(t)
	want := map[string][]catalog.Variant{
		// The same row in two documents is one variant citing both.
		"898001": {v("User exists", "用户已存在", "sdk/server", "im/im")},
		// Typo kept verbatim.
		"898002": {v("No sush user", "用户不存在", "sdk/server", "im/im")},
		// Trailing space in both documents' meaning trimmed, so they agree.
		"898003": {v("Parameter invalid!", "请求参数不合法", "sdk/server", "im/im")},
		// Stray </a> removed; the documents disagree on the meaning.
		"898004": {
			v("Password error", "更新密码操作，用户密码错误", "sdk/server"),
			v("Password error", "密码错误", "im/im"),
		},
		// The `</a>` stripped in both documents; the spellings differ only
		// in case, so one variant.
		"800006": {v("User id not exist", "用户ID不存在（数据库中无该UID）", "sdk/server", "im/im")},
		"871310": {v("Network not available,please check your network connection.", "网络连接已断开，请检查网络", "sdk/android")},
		// Trailing spaces inside the cell trimmed, inner text untouched.
		"871305": {v("Invalid name.", "名称不合法（包括nickname groupname notename）", "sdk/android")},
		// Trailing tab in the message trimmed.
		"808004": {v("length of group name exceed limit", "讨论组名长度超出上限，创建讨论组失败", "sdk/server")},
		"860015": {v("Network downloading media failed.", "媒体文件下载失败", "sdk/ios")},
		// Documented without an English message.
		"803002": {v("", "发送消息失败，系统网络异常", "sdk/server", "im/im")},
		// Only in the IM document; the server table has 898030 instead.
		"808030": {v("Server response time out, please try again later", "系统繁忙，稍后重试", "im/im")},
		"898030": {v("Server response time out, please try again later", "系统繁忙，稍后重试", "sdk/server")},
	}
	for code, variants := range want {
		e, ok := c.Lookup(code)
		if !ok {
			t.Errorf("Lookup(%s) found nothing", code)
			continue
		}
		if !reflect.DeepEqual(e.Variants, variants) {
			t.Errorf("%s variants:\n got %q\nwant %q", code, e.Variants, variants)
		}
	}
	if _, ok := c.Lookup("0"); ok {
		t.Error("the success row 0 must not be a code")
	}
}

// substantiveDisagreements maps the codes whose documents disagree in more
// than letter case or spacing to their variants, in document order.
var substantiveDisagreements = map[string][]catalog.Variant{
	"800012": {
		v("user logout", "发起的用户处于登出状态，账号注册以后从未登录过，需要先登录", "sdk/server"),
		v("user never login", "发起的用户从未登录过", "im/im"),
	},
	"800013": {
		v("user logout", "发起的用户处于登出状态，请求的用户已经登出，需要先登录", "sdk/server"),
		v("user logout", "发起的用户已登出", "im/im"),
	},
	"801003": {
		v("Invalid user name or password", "登录的用户名未注册，登录失败", "sdk/server"),
		v("user name not register", "用户名不存在", "im/im"),
	},
	"801004": {
		v("Invalid user name or password", "登录的用户密码错误，登录失败", "sdk/server"),
		v("user password is wrong", "用户密码错误", "im/im"),
	},
	"803001": {
		v("", "发送消息失败，状态存储异常", "sdk/server"),
		v("", "发送消息失败，系统内部异常", "im/im"),
	},
	"803003": {
		v("", "发送消息失败，目标用户未注册或不存在", "sdk/server"),
		v("", "发送消息失败，目标用户未注册或从未登录过", "im/im"),
	},
	"811003": {
		v("zero member", "用户删除讨论组成员时，用户不在该讨论组中，删除成员失败", "sdk/server"),
		v("user not in the group", "用户删除讨论组成员时，用户不在该讨论组中，删除成员失败", "im/im"),
	},
	"898004": {
		v("Password error", "更新密码操作，用户密码错误", "sdk/server"),
		v("Password error", "密码错误", "im/im"),
	},
	// The IM document lists 898006 twice, differing only in a space; its
	// first row differs from the server table's only in letter case.
	"898006": {
		v("Gid invalid", "Gid不存在", "sdk/server", "im/im"),
		v("gid invalid", "gid 不存在", "im/im"),
	},
}

// caseOnly lists the codes whose server-table and IM-document rows differ
// only in the capitalisation of the English message: one variant each,
// spelled as the server table has it, with both sources.
var caseOnly = []string{
	"800003", "800005", "800006", "800009", "800014",
	"808002", "808003", "809002",
	"810003", "810004", "810005", "810006", "810007", "810008", "810009",
	"811004", "811005", "811006", "811007", "811008",
	"812002", "898009",
}

func TestBuiltinVariants(t *testing.T) {
	c := builtin(t)
	for code, want := range substantiveDisagreements {
		e, _ := c.Lookup(code)
		if !reflect.DeepEqual(e.Variants, want) {
			t.Errorf("%s variants:\n got %q\nwant %q", code, e.Variants, want)
		}
	}

	var multi, substantive, wsInsensitive []string
	fold := func(s string, spaces bool) string {
		s = strings.ToLower(s)
		if spaces {
			s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), "")
		}
		return s
	}
	for _, e := range c.Entries() {
		if len(e.Variants) < 2 {
			continue
		}
		multi = append(multi, e.Code)
		distinct := func(spaces bool) int {
			set := map[[2]string]bool{}
			for _, v := range e.Variants {
				set[[2]string{fold(v.Message, spaces), fold(v.Meaning, spaces)}] = true
			}
			return len(set)
		}
		if distinct(false) > 1 {
			substantive = append(substantive, e.Code)
		}
		if distinct(true) > 1 {
			wsInsensitive = append(wsInsensitive, e.Code)
		}
	}

	wantSubstantive := make([]string, 0, len(substantiveDisagreements))
	for code := range substantiveDisagreements {
		wantSubstantive = append(wantSubstantive, code)
	}
	sort.Strings(wantSubstantive)
	if !slices.Equal(substantive, wantSubstantive) || len(substantive) != 9 {
		t.Errorf("codes disagreeing beyond letter case = %v, want the 9 codes %v", substantive, wantSubstantive)
	}
	// 898006 is the only disagreement that disappears when spacing is
	// ignored as well.
	wantWS := slices.DeleteFunc(slices.Clone(wantSubstantive), func(s string) bool { return s == "898006" })
	if !slices.Equal(wsInsensitive, wantWS) {
		t.Errorf("codes disagreeing beyond case and spacing = %v, want %v", wsInsensitive, wantWS)
	}
	for _, code := range caseOnly {
		e, _ := c.Lookup(code)
		if len(e.Variants) != 1 || !slices.Equal(e.Variants[0].Sources, []string{"sdk/server", "im/im"}) {
			t.Errorf("%s: want one variant from sdk/server and im/im, got %q", code, e.Variants)
		}
	}
	wantMulti := wantSubstantive
	if !slices.Equal(multi, wantMulti) {
		t.Errorf("codes with several variants = %v, want %v", multi, wantMulti)
	}
}

func TestBuiltinIsFresh(t *testing.T) {
	a := builtin(t)
	e, _ := a.Lookup("898001")
	e.Variants[0].Message = "changed"
	e.Variants[0].Sources[0] = "changed"
	all := a.Entries()
	all[0].Code = "changed"
	a.Sources()[0].ID = "changed"

	for _, c := range []*catalog.Catalog{a, builtin(t)} {
		e, _ := c.Lookup("898001")
		if e.Variants[0].Message != "User exists" || e.Variants[0].Sources[0] != "sdk/server" {
			t.Errorf("catalog changed through a returned entry: %q", e.Variants)
		}
		if c.Entries()[0].Code != "800002" {
			t.Error("catalog changed through Entries")
		}
		if c.Sources()[0].ID != "sdk/ios" {
			t.Error("catalog changed through Sources")
		}
	}
}

func chooseMap(t *testing.T, c *catalog.Catalog, order []string) map[string]catalog.Choice {
	t.Helper()
	choices, err := c.Choose(order)
	if err != nil {
		t.Fatalf("Choose(%q): %v", order, err)
	}
	m := make(map[string]catalog.Choice, len(choices))
	for i, ch := range choices {
		if i > 0 && choices[i-1].Code >= ch.Code {
			t.Errorf("choices not in code order: %q before %q", choices[i-1].Code, ch.Code)
		}
		m[ch.Code] = ch
	}
	return m
}

func TestChooseDefault(t *testing.T) {
	c := builtin(t)
	if got, want := catalog.DefaultPreference(), []string{"sdk/server", "im/im", "sdk/android", "sdk/ios"}; !slices.Equal(got, want) {
		t.Fatalf("DefaultPreference() = %q, want %q", got, want)
	}
	m := chooseMap(t, c, catalog.DefaultPreference())
	if len(m) != 146 {
		t.Errorf("got %d choices, want 146", len(m))
	}
	for code, want := range map[string]catalog.Choice{
		"801003": {Code: "801003", Message: "Invalid user name or password", Meaning: "登录的用户名未注册，登录失败", Source: "sdk/server"},
		"898006": {Code: "898006", Message: "Gid invalid", Meaning: "Gid不存在", Source: "sdk/server"},
		"898001": {Code: "898001", Message: "User exists", Meaning: "用户已存在", Source: "sdk/server"},
		"800002": {Code: "800002", Message: "appkey info is nil", Meaning: "appkey信息为空", Source: "im/im"},
		"871310": {Code: "871310", Message: "Network not available,please check your network connection.", Meaning: "网络连接已断开，请检查网络", Source: "sdk/android"},
		"860015": {Code: "860015", Message: "Network downloading media failed.", Meaning: "媒体文件下载失败", Source: "sdk/ios"},
	} {
		if got := m[code]; got != want {
			t.Errorf("default choice for %s = %+v, want %+v", code, got, want)
		}
	}
}

func TestChooseReversed(t *testing.T) {
	c := builtin(t)
	order := catalog.DefaultPreference()
	slices.Reverse(order)
	m := chooseMap(t, c, order)
	for code, want := range map[string]catalog.Choice{
		"801003": {Code: "801003", Message: "user name not register", Meaning: "用户名不存在", Source: "im/im"},
		// Both variants are cited by im/im; the first in catalog order
		// wins, spelled as its first source has it.
		"898006": {Code: "898006", Message: "Gid invalid", Meaning: "Gid不存在", Source: "im/im"},
		// One variant cited by both: the source reported is the one
		// ranked best.
		"898001": {Code: "898001", Message: "User exists", Meaning: "用户已存在", Source: "im/im"},
		"898030": {Code: "898030", Message: "Server response time out, please try again later", Meaning: "系统繁忙，稍后重试", Source: "sdk/server"},
	} {
		if got := m[code]; got != want {
			t.Errorf("reversed choice for %s = %+v, want %+v", code, got, want)
		}
	}
}

func TestChoosePartialOrder(t *testing.T) {
	c := builtin(t)
	// Unlisted sources rank after listed ones, in catalog order
	// (sdk/ios, sdk/android, sdk/server, im/im).
	for _, order := range [][]string{nil, {}, {"sdk/ios"}} {
		m := chooseMap(t, c, order)
		if got := m["801003"]; got.Source != "sdk/server" || got.Message != "Invalid user name or password" {
			t.Errorf("Choose(%q) for 801003 = %+v, want the sdk/server variant", order, got)
		}
	}
	m := chooseMap(t, c, []string{"im/im"})
	if got := m["801004"]; got.Source != "im/im" || got.Message != "user password is wrong" {
		t.Errorf("Choose([im/im]) for 801004 = %+v, want the im/im variant", got)
	}
}

func TestChooseErrors(t *testing.T) {
	c := builtin(t)
	for _, order := range [][]string{
		{"sdk/server", "sdk/nowhere"},
		{"sdk/server", "im/im", "sdk/server"},
		{""},
	} {
		if _, err := c.Choose(order); err == nil {
			t.Errorf("Choose(%q) succeeded, want an error", order)
		}
	}
}

func TestNewValidates(t *testing.T) {
	srcs := []catalog.Source{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}}
	good := catalog.Entry{Code: "ECONNRESET", Variants: []catalog.Variant{v("connection reset", "连接被重置", "a")}}
	cases := []struct {
		name    string
		sources []catalog.Source
		entries []catalog.Entry
	}{
		{"empty code", srcs, []catalog.Entry{{Code: "", Variants: good.Variants}}},
		{"duplicate code", srcs, []catalog.Entry{good, good}},
		{"no variants", srcs, []catalog.Entry{{Code: "X"}}},
		{"variant without source", srcs, []catalog.Entry{{Code: "X", Variants: []catalog.Variant{v("m", "n")}}}},
		{"unknown source", srcs, []catalog.Entry{{Code: "X", Variants: []catalog.Variant{v("m", "n", "c")}}}},
		{"source cited twice", srcs, []catalog.Entry{{Code: "X", Variants: []catalog.Variant{v("m", "n", "a", "a")}}}},
		{"repeated wording", srcs, []catalog.Entry{{Code: "X", Variants: []catalog.Variant{v("m", "n", "a"), v("m", "n", "b")}}}},
		{"empty source ID", []catalog.Source{{ID: "", Name: "?"}}, nil},
		{"duplicate source ID", []catalog.Source{{ID: "a", Name: "A"}, {ID: "a", Name: "A"}}, nil},
	}
	for _, tc := range cases {
		if _, err := catalog.New(tc.sources, tc.entries); err == nil {
			t.Errorf("%s: New accepted invalid input", tc.name)
		}
	}

	entries := []catalog.Entry{
		{Code: "b", Variants: []catalog.Variant{v("", "only a meaning", "b", "a")}},
		good,
		{Code: "800001", Variants: []catalog.Variant{v("m", "n", "b")}},
	}
	c, err := catalog.New(srcs, entries)
	if err != nil {
		t.Fatalf("New rejected valid input: %v", err)
	}
	entries[1].Variants[0].Message = "changed after New"
	var codes []string
	for _, e := range c.Entries() {
		codes = append(codes, e.Code)
	}
	if want := []string{"800001", "ECONNRESET", "b"}; !slices.Equal(codes, want) {
		t.Errorf("codes = %q, want byte order %q", codes, want)
	}
	if e, _ := c.Lookup("ECONNRESET"); e.Variants[0].Message != "connection reset" {
		t.Errorf("catalog changed through the slice passed to New: %q", e.Variants)
	}
	if e, _ := c.Lookup("b"); !slices.Equal(e.Variants[0].Sources, []string{"a", "b"}) {
		t.Errorf("variant sources = %q, want catalog source order [a b]", e.Variants[0].Sources)
	}
	if _, ok := c.Lookup("econnreset"); ok {
		t.Error("Lookup must match codes exactly")
	}

	var zero catalog.Catalog
	if zero.Entries() != nil || zero.Sources() != nil {
		t.Error("zero catalog is not empty")
	}
	if ch, err := zero.Choose(nil); err != nil || ch != nil {
		t.Errorf("zero catalog Choose = %v, %v", ch, err)
	}
}

func TestMerge(t *testing.T) {
	base := builtin(t)
	overlay, err := catalog.New(
		[]catalog.Source{
			{ID: "custom", Name: "Our runbook"},
			{ID: "sdk/server", Name: "JMessage SDK error codes — Server Error table"},
		},
		[]catalog.Entry{
			{Code: "801003", Variants: []catalog.Variant{v("Unknown user", "用户名未注册", "custom")}},
			{Code: "ECONNRESET", Variants: []catalog.Variant{v("connection reset by peer", "连接被对端重置", "custom")}},
			{Code: "898000", Variants: []catalog.Variant{v("Server internal error", "内部错误（服务器）", "sdk/server")}},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	m, err := base.Merge(overlay)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if got := len(m.Entries()); got != 147 {
		t.Errorf("merged catalog has %d entries, want 147", got)
	}
	wantSources := append(base.Sources(), catalog.Source{ID: "custom", Name: "Our runbook"})
	if got := m.Sources(); !reflect.DeepEqual(got, wantSources) {
		t.Errorf("merged sources = %v, want %v", got, wantSources)
	}
	// The overlay entry replaces all of the documents' variants.
	if e, _ := m.Lookup("801003"); !reflect.DeepEqual(e.Variants, []catalog.Variant{v("Unknown user", "用户名未注册", "custom")}) {
		t.Errorf("801003 after merge = %q", e.Variants)
	}
	if e, _ := m.Lookup("898000"); !reflect.DeepEqual(e.Variants, []catalog.Variant{v("Server internal error", "内部错误（服务器）", "sdk/server")}) {
		t.Errorf("898000 after merge = %q", e.Variants)
	}
	if _, ok := m.Lookup("ECONNRESET"); !ok {
		t.Error("new overlay code missing after merge")
	}
	if e, _ := m.Lookup("801004"); len(e.Variants) != 2 {
		t.Errorf("untouched entry 801004 changed: %q", e.Variants)
	}
	// The inputs are unchanged.
	if e, _ := base.Lookup("801003"); len(e.Variants) != 2 {
		t.Errorf("base catalog changed by Merge: %q", e.Variants)
	}
	if len(base.Entries()) != 146 || len(overlay.Entries()) != 3 {
		t.Error("Merge changed an input's entries")
	}
	// A preference for the base catalog still works, and the new source can
	// be ranked.
	ch := chooseMap(t, m, append([]string{"custom"}, catalog.DefaultPreference()...))
	if got := ch["801003"]; got.Source != "custom" || got.Message != "Unknown user" {
		t.Errorf("choice for 801003 = %+v", got)
	}
	if _, err := m.Choose(catalog.DefaultPreference()); err != nil {
		t.Errorf("default preference rejected on merged catalog: %v", err)
	}

	clash, err := catalog.New([]catalog.Source{{ID: "im/im", Name: "Something else"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := base.Merge(clash); err == nil {
		t.Error("Merge accepted a source ID with a different name")
	}
	if _, err := base.Merge(nil); err == nil {
		t.Error("Merge accepted a nil overlay")
	}
}

func TestConcurrentUse(t *testing.T) {
	c := builtin(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := c.Choose(catalog.DefaultPreference()); err != nil {
					t.Error(err)
					return
				}
				if e, ok := c.Lookup("898006"); !ok || len(e.Variants) != 2 {
					t.Error("Lookup(898006) returned the wrong entry")
					return
				}
				_ = c.Entries()
			}
		}()
	}
	wg.Wait()
}
