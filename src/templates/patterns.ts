/**
 * Name and duration shapes shared by the template and fragment file schemas.
 * Kept as plain regex sources so they go into JSON Schema `pattern` unchanged.
 */

/** Template and fragment keys: kebab-case, e.g. `billing-dispute`, `verify-identity`. */
export const KEY_PATTERN = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$';

/** `key@version`, e.g. `verify-identity@1`. */
export const FRAGMENT_REF_PATTERN = '^[a-z][a-z0-9]*(-[a-z0-9]+)*@[1-9][0-9]*$';

/**
 * Goal and milestone keys: snake_case, because conditions name them inside CEL strings
 * (`'identity_verified' in milestones`).
 */
export const SNAKE_KEY_PATTERN = '^[a-z][a-z0-9]*(_[a-z0-9]+)*$';

/** ISO 8601 duration with at least one non-empty part: `PT1H`, `P2D`, `P1DT12H`, `PT0.5S`. */
export const ISO_DURATION_PATTERN =
  '^P(?=\\d|T\\d)(\\d+Y)?(\\d+M)?(\\d+W)?(\\d+D)?(T(?=\\d)(\\d+H)?(\\d+M)?(\\d+(\\.\\d+)?S)?)?$';

/** Role and queue names: `agent`, `supervisor`, `social-care`, `billing_l2`. */
export const NAME_PATTERN = '^[a-z][a-z0-9_-]*$';

