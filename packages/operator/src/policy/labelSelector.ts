import { Schema } from "effect"

const Requirement = Schema.Struct({
  key: Schema.String,
  operator: Schema.Literals(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: Schema.optionalKey(Schema.Array(Schema.String)),
})
type Requirement = typeof Requirement.Type

/** A metav1.LabelSelector: every `matchLabels` entry and every `matchExpressions` requirement must hold. */
export const LabelSelector = Schema.Struct({
  matchLabels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  matchExpressions: Schema.optionalKey(Schema.Array(Requirement)),
})
export type LabelSelector = typeof LabelSelector.Type

const holds = (requirement: Requirement, labels: Readonly<Record<string, string>>): boolean => {
  const present = Object.hasOwn(labels, requirement.key)
  const listed = present && (requirement.values ?? []).includes(labels[requirement.key] ?? "")
  const verdicts = { In: listed, NotIn: !listed, Exists: present, DoesNotExist: !present }
  return verdicts[requirement.operator]
}

/** Whether `labels` satisfy `selector`, with Kubernetes' semantics (an empty selector matches everything). */
export const selectorMatches = (selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean =>
  Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
  (selector.matchExpressions ?? []).every((requirement) => holds(requirement, labels))

const requirementText = (requirement: Requirement): string => {
  const values = `(${(requirement.values ?? []).join(",")})`
  const texts = {
    In: `${requirement.key} in ${values}`,
    NotIn: `${requirement.key} notin ${values}`,
    Exists: requirement.key,
    DoesNotExist: `!${requirement.key}`,
  }
  return texts[requirement.operator]
}

/** The selector as `kubectl -l` writes it, for messages: `team=edge,env in (prod,staging)`. */
export const describeSelector = (selector: LabelSelector): string => {
  const parts = [
    ...Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`),
    ...(selector.matchExpressions ?? []).map(requirementText),
  ]
  return parts.length === 0 ? "<every namespace>" : parts.join(",")
}

export const isEmptySelector = (selector: LabelSelector): boolean =>
  Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0
