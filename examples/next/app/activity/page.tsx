import { Dashboard } from '../dashboard';

export default function Activity() {
  return <Dashboard page="activity" />;
}
