package server

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/store"
)

func BenchmarkZZApply(b *testing.B) {
	for _, batch := range []int{1, 8, 64} {
		b.Run(fmt.Sprint(batch), func(b *testing.B) {
			st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "x.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			im, _ := st.BeginImport(context.Background(), "t")
			for i := range 1000 {
				im.Add(context.Background(), store.Registration{Provider: "cobalt", ProviderID: fmt.Sprintf("c%d", i)})
			}
			im.Commit(context.Background(), "t")
			t0 := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				obs := make([]store.Observation, 0, batch)
				for j := i; j < i+batch; j++ {
					obs = append(obs, store.Observation{Provider: "cobalt", ProviderID: fmt.Sprintf("c%d", j%1000), EventID: fmt.Sprint("e", j),
						Kind: "webhook", Raw: make([]byte, 300), Verified: "hmac-sha256", ReceivedAt: time.Now(),
						Signal: health.Signal{Effect: health.SetPrimary, Category: []health.Category{health.LoginRequired, health.PasswordExpired}[j/1000%2], Source: health.SourceWebhook, ObservedAt: t0.Add(time.Duration(j) * time.Millisecond)}})
				}
				if _, err := st.Apply(context.Background(), obs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
