# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: html_template
author:
  - kmsrotate.aws maintainers (@kmsrotate)
short_description: Render a template as HTML, every value escaped by Jinja
version_added: 0.2.0
description:
  - Renders a Jinja template, found where M(ansible.builtin.template) finds its source (a role's C(templates) folder
    first), in a plain Jinja environment with autoescape on, so every value is HTML-escaped by Jinja (MarkupSafe).
    The rotation role writes its HTML report with it.
  - "Ansible's own templating cannot do this: it renders native types, so C({% autoescape true %}) has no effect in
    an M(ansible.builtin.template) source."
  - The template sees only the values of O(template_vars), as plain JSON data (no host variables, no lookups), and
    only Jinja's built-in filters and tests. A missing value renders as an empty string.
options:
  _terms:
    description: The template file names.
    required: true
    type: list
    elements: str
  template_vars:
    description: The variables the template sees.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Write an HTML page, every value escaped
  ansible.builtin.copy:
    content: "{{ lookup('kmsrotate.aws.html_template', 'report.html.j2', template_vars={'summary': summary}) }}"
    dest: /var/lib/kms-rotation/report.html
    mode: "0640"
"""

RETURN = r"""
_raw:
  description: The rendered HTML of each template.
  type: list
  elements: str
"""

import json

import jinja2
from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        # Plain data only: a value that brought its own __html__ (Markup) would skip the escaping.
        values = json.loads(json.dumps(self.get_option("template_vars"), default=str))
        environment = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True,
                                         lstrip_blocks=True, keep_trailing_newline=True)
        pages = []
        for term in terms:
            path = self.find_file_in_search_path(variables, "templates", term)
            if path is None:
                raise AnsibleError("template {0} not found in the templates folders of the role or playbook".format(term))
            with open(path, encoding="utf-8") as source:
                pages.append(environment.from_string(source.read()).render(values))
        return pages
