package plaid

// CacheSizes is how many real keys and "no such key" answers v holds.
func (v *Verifier) CacheSizes() (keys, negative int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.keys), v.neg.len()
}
