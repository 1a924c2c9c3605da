package health

import (
	"slices"
	"testing"
)

func TestTopicsAreTheFailingCategoriesWorstFirstThenTheRemindableWarnings(t *testing.T) {
	got := Topics()
	if got[0] != string(PermissionRevoked) || got[len(got)-2] != string(ConsentExpiring) || got[len(got)-1] != string(PasswordChangeWarning) {
		t.Fatalf("Topics() = %v", got)
	}
	for _, topic := range got[:len(got)-2] {
		if c := Category(topic); !c.Failing() {
			t.Errorf("%s is not a failing category", topic)
		}
	}
	for _, c := range Categories() {
		if c.Failing() && !slices.Contains(got, string(c)) {
			t.Errorf("Topics() lacks %s", c)
		}
	}
}
