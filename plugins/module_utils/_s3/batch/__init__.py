# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""S3 Batch Operations for s3_kms_recopy `method: batch` and the residue proof (docs/s3_batch.md)."""
