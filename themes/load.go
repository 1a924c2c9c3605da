package themes

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

//go:embed builtin/*.toml
var builtin embed.FS

// Auto is the default theme: the built-in dark palette on a dark terminal
// background, the light one on a light background.
const Auto = "auto"

// Builtins lists the names of the built-in themes.
func Builtins() []string {
	names := []string{Auto}
	entries, _ := fs.ReadDir(builtin, "builtin")
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".toml"))
	}
	return names
}

// layer is one theme file as written: its base and the colours it sets.
type layer struct {
	file              string
	base              string
	both, dark, light map[string]string
	hasBase, baseNone bool
}

// Load resolves the theme called name. A file <dir>/<name>.toml wins over a
// built-in of the same name; a name ending in ".toml" or containing a path
// separator is read as a path. "" and "auto" follow the terminal background.
//
// A theme file may set only some colours: the others come from its base,
// recursively. Its keys:
//
//	base = "auto"        # the theme it extends: a built-in, another file, or "none"
//	accent = "#ff8800"   # a colour token (see TokenNames) for both backgrounds
//	[dark]               # tokens for dark backgrounds only
//	error = "203"
//	[light]              # tokens for light backgrounds only
//	error = "#b00020"
//
// Colours are "#rrggbb", "#rgb", an ANSI number "0"–"255", or "none" (the
// terminal's own). An unknown key or a bad colour is an error naming the key
// and the file.
func Load(name, dir string) (Palette, error) {
	return resolve(name, dir, nil)
}

func resolve(name, dir string, seen []string) (Palette, error) {
	if name == "" || name == Auto {
		dark, err := resolve("dark", "", append(seen, Auto))
		if err != nil {
			return Palette{}, err
		}
		light, err := resolve("light", "", append(seen, Auto))
		if err != nil {
			return Palette{}, err
		}
		p := dark
		for _, t := range tokens {
			t.get(&p).Light = t.get(&light).Light
		}
		p.Name = Auto
		return p, nil
	}
	for _, s := range seen {
		if s == name {
			return Palette{}, fmt.Errorf("theme %s: its bases form a cycle (%s → %s)", seen[0], strings.Join(seen, " → "), name)
		}
	}
	l, err := readLayer(name, dir)
	if err != nil {
		return Palette{}, err
	}
	var p Palette
	if !l.baseNone {
		base := l.base
		if !l.hasBase {
			base = Auto
		}
		if p, err = resolve(base, dir, append(seen, name)); err != nil {
			return Palette{}, fmt.Errorf("%s: base %q: %w", l.file, base, err)
		}
	}
	for _, t := range tokens {
		pair := t.get(&p)
		if v, ok := l.both[t.name]; ok {
			pair.Light, pair.Dark = v, v
		}
		if v, ok := l.light[t.name]; ok {
			pair.Light = v
		}
		if v, ok := l.dark[t.name]; ok {
			pair.Dark = v
		}
	}
	p.Name = name
	return p, nil
}

// readLayer finds and parses one theme file.
func readLayer(name, dir string) (layer, error) {
	if strings.HasSuffix(name, ".toml") || strings.ContainsRune(name, filepath.Separator) {
		b, err := os.ReadFile(name)
		if err != nil {
			return layer{}, fmt.Errorf("theme %s: %w", name, err)
		}
		return parseLayer(name, b)
	}
	if dir != "" {
		path := filepath.Join(dir, name+".toml")
		b, err := os.ReadFile(path)
		if err == nil {
			return parseLayer(path, b)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return layer{}, fmt.Errorf("theme %s: %w", name, err)
		}
	}
	b, err := builtin.ReadFile("builtin/" + name + ".toml")
	if err != nil {
		where := "built-in themes"
		if dir != "" {
			where = dir + " or the built-in themes"
		}
		return layer{}, fmt.Errorf("theme %q is not in %s (%s)", name, where, strings.Join(Builtins(), ", "))
	}
	return parseLayer("builtin/"+name+".toml", b)
}

// parseLayer decodes a theme file, rejecting unknown keys and bad colours
// with the key and the file named.
func parseLayer(file string, b []byte) (layer, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return layer{}, fmt.Errorf("theme %s: %w", file, err)
	}
	l := layer{file: file, both: map[string]string{}, dark: map[string]string{}, light: map[string]string{}}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		switch k {
		case "base":
			s, ok := v.(string)
			if !ok {
				return l, fmt.Errorf("theme %s: base: want a theme name, got %v", file, v)
			}
			l.base, l.hasBase, l.baseNone = s, true, s == "none"
		case "dark", "light":
			tbl, ok := v.(map[string]any)
			if !ok {
				return l, fmt.Errorf("theme %s: %s: want a table of colours ([%s])", file, k, k)
			}
			dst := l.dark
			if k == "light" {
				dst = l.light
			}
			if err := colours(file, k+".", tbl, dst); err != nil {
				return l, err
			}
		default:
			if err := colours(file, "", map[string]any{k: v}, l.both); err != nil {
				return l, err
			}
		}
	}
	return l, nil
}

func colours(file, prefix string, tbl map[string]any, dst map[string]string) error {
	keys := make([]string, 0, len(tbl))
	for k := range tbl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := tbl[k]
		if _, ok := lookupToken(k); !ok {
			known := "base, dark, light, "
			if prefix != "" {
				known = ""
			}
			return fmt.Errorf("theme %s: unknown key %q (known: %s%s)", file, prefix+k, known, strings.Join(TokenNames(), ", "))
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("theme %s: %s%s: want a colour string, got %v", file, prefix, k, v)
		}
		if err := checkColour(s); err != nil {
			return fmt.Errorf("theme %s: %s%s: %w", file, prefix, k, err)
		}
		if s == "none" {
			s = ""
		}
		dst[k] = s
	}
	return nil
}
