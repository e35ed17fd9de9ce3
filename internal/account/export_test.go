package account

// CountVerifications makes s record the costs of every hash it verifies,
// in the order verified.
func CountVerifications(s *Service, costs *[]Params) {
	s.verify = func(hash, password string) (bool, error) {
		p, _, _, err := parseHash(hash)
		if err == nil {
			*costs = append(*costs, p)
		}
		return VerifyPassword(hash, password)
	}
}
